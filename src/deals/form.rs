//! The registration form as the partner typed it, and its check: every field at once, each refusal in words for
//! the field it belongs to, or the `Registration` to store. The same form registers a deal and corrects one sent
//! back for more information.

use crate::domain::refusal::Refusal;

use chrono::NaiveDate;

use super::config::CustomField;
use super::rules::{check_custom_value, domain_of_email, parse_amount, registrable_domain};
use super::{CustomValue, Deal, Registration};
use crate::domain::email::EmailAddress;
use crate::platform::http::FieldErrors;

/// The registration form as typed. Read from the raw pairs, since products repeat and custom fields are named by
/// the program.
#[derive(Debug, Clone, Default)]
pub struct DealForm {
    pub customer_name: String,
    pub website: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_title: String,
    pub country: String,
    pub amount: String,
    pub currency: String,
    pub expected_close: String,
    pub description: String,
    pub justification: String,
    pub products: Vec<String>,
    pub custom: Vec<(String, String)>,
    /// Set once the partner has seen the conflict warning.
    pub acknowledged: bool,
}

impl DealForm {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (name, value) in pairs {
            match name.as_str() {
                "customer_name" => form.customer_name = value,
                "website" => form.website = value,
                "contact_name" => form.contact_name = value,
                "contact_email" => form.contact_email = value,
                "contact_title" => form.contact_title = value,
                "country" => form.country = value,
                "amount" => form.amount = value,
                "currency" => form.currency = value,
                "expected_close" => form.expected_close = value,
                "description" => form.description = value,
                "justification" => form.justification = value,
                "products" => form.products.push(value),
                "acknowledged" => form.acknowledged = value == "1",
                other if other.starts_with("custom_") => form.custom.push((name, value)),
                _ => {}
            }
        }
        form
    }

    pub fn from_deal(deal: &Deal) -> Self {
        Self {
            customer_name: deal.customer_name.clone(),
            website: deal.customer_domain.clone(),
            contact_name: deal.contact_name.clone(),
            contact_email: deal.contact_email.clone(),
            contact_title: deal.contact_title.clone(),
            country: deal.country.clone(),
            amount: deal.amount().amount_text(),
            currency: deal.currency.clone(),
            expected_close: deal.expected_close_date.to_string(),
            description: deal.description.clone(),
            justification: deal.justification.clone(),
            products: deal
                .product_list()
                .into_iter()
                .map(str::to_string)
                .collect(),
            custom: deal
                .custom_values()
                .into_iter()
                .map(|v| (format!("custom_{}", v.field_id), v.value))
                .collect(),
            acknowledged: false,
        }
    }

    pub fn custom_value(&self, input_name: &str) -> &str {
        self.custom
            .iter()
            .find(|(n, _)| n == input_name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Checks every field; returns what to store, or an error per field.
    pub fn check(
        &self,
        products: &[String],
        fields: &[CustomField],
        today: NaiveDate,
    ) -> Result<Registration, FieldErrors> {
        let mut errors = FieldErrors::default();
        let text = |raw: &str| raw.trim().to_string();
        let customer_name = text(&self.customer_name);
        if customer_name.chars().count() < 2 || customer_name.chars().count() > 200 {
            errors.add("customer_name", "Enter the customer's company name.");
        }
        let contact_email = EmailAddress::parse(&self.contact_email)
            .map_err(|e| errors.add("contact_email", e))
            .ok();
        let customer_domain = match registrable_domain(&self.website) {
            Ok(domain) if !domain.is_empty() => domain,
            Ok(_) => contact_email
                .as_ref()
                .and_then(|e| domain_of_email(e.as_str()))
                .unwrap_or_default(),
            Err(e) => {
                errors.add("website", e);
                String::new()
            }
        };
        let contact_name = text(&self.contact_name);
        if contact_name.is_empty() || contact_name.chars().count() > 100 {
            errors.add(
                "contact_name",
                "Enter the name of your contact at the customer.",
            );
        }
        let contact_title = text(&self.contact_title);
        if contact_title.chars().count() > 100 {
            errors.add("contact_title", "The title takes at most 100 characters.");
        }
        let country = text(&self.country).to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            errors.add(
                "country",
                "Enter the customer's country as a two-letter code, such as US or DE.",
            );
        }
        let amount = parse_amount(&self.amount, &self.currency)
            .map_err(|(field, message)| errors.add(field, message))
            .ok();
        let expected_close = check_close_date(&self.expected_close, today)
            .map_err(|e| errors.add("expected_close", e))
            .ok();
        let chosen = self.chosen_products();
        if let Err(e) = check_products(&chosen, products) {
            errors.add("products", e);
        }
        let description = text(&self.description);
        if description.chars().count() > 5000 {
            errors.add(
                "description",
                "The description takes at most 5,000 characters.",
            );
        }
        let justification = text(&self.justification);
        if justification.chars().count() > 2000 {
            errors.add(
                "justification",
                "The justification takes at most 2,000 characters.",
            );
        }
        let custom_values = self.custom_values(fields, &mut errors);
        match (amount, expected_close, contact_email, errors.is_empty()) {
            (Some(amount), Some(expected_close_date), Some(email), true) => Ok(Registration {
                customer_name,
                customer_domain,
                contact_name,
                contact_email: email.as_str().to_string(),
                contact_title,
                country,
                amount,
                expected_close_date,
                products: chosen,
                description,
                custom_values,
                justification,
            }),
            _ => Err(errors),
        }
    }
    /// The products ticked, trimmed, blanks left out.
    fn chosen_products(&self) -> Vec<String> {
        self.products
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// The program's custom fields as answered; a refusal per field goes to `errors`.
    fn custom_values(&self, fields: &[CustomField], errors: &mut FieldErrors) -> Vec<CustomValue> {
        let mut values = Vec::new();
        for field in fields {
            let name = field.input_name();
            match check_custom_value(&field.spec(), self.custom_value(&name)) {
                Ok(value) => values.push(CustomValue {
                    field_id: field.id,
                    label: field.label.clone(),
                    value,
                }),
                Err(e) => errors.add(&name, e),
            }
        }
        values
    }
}

/// The expected close date: a real date, not in the past, at most three years away.
fn check_close_date(typed: &str, today: NaiveDate) -> Result<NaiveDate, &'static str> {
    match NaiveDate::parse_from_str(typed.trim(), "%Y-%m-%d") {
        Ok(date) if date < today => Err("The expected close date cannot be in the past."),
        Ok(date) if date > today + chrono::Duration::days(3 * 366) => {
            Err("The expected close date is more than three years away.")
        }
        Ok(date) => Ok(date),
        Err(_) => Err("Enter the expected close date, like 2027-03-31."),
    }
}

/// At least one product when the program lists any, and only products it lists.
fn check_products(
    chosen: &[String],
    offered: &[String],
) -> Result<(), crate::domain::refusal::Refusal> {
    if let Some(unknown) = chosen.iter().find(|p| !offered.contains(p)) {
        Err(Refusal::new(format!(
            "'{unknown}' is not one of the program's products."
        )))
    } else if chosen.is_empty() && !offered.is_empty() {
        Err("Choose at least one product.".into())
    } else {
        Ok(())
    }
}
