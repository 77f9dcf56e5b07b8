//! The asset form as an admin fills it in (read from a multipart upload), and the asset it describes once every
//! field is checked (`AssetInput::try_from(&form)` gives all the form's errors at once).

use crate::assets::store::NewAsset;
use crate::domain::partner::Audience;
use crate::platform::http::FieldErrors;

#[derive(Debug, Clone, Default)]
pub struct AssetForm {
    pub title: String,
    pub description: String,
    pub category: String,
    pub min_tier_rank: String,
    pub partner_kinds: String,
    pub required_course_id: String,
    pub link_url: String,
    /// (file name, content type, bytes) of the uploaded file, if one came within the size limit.
    pub file: Option<(String, String, Vec<u8>)>,
    /// The refusal for a file over the size limit, which the upload dropped.
    pub file_refused: Option<String>,
}

/// A checked asset: a file or a link, with who may see it.
#[derive(Debug, Clone)]
pub struct AssetInput {
    pub title: String,
    pub description: String,
    pub category: String,
    pub min_tier_rank: i64,
    pub partner_kinds: String,
    pub required_course_id: Option<i64>,
    pub link_url: String,
    pub file: Option<(String, String, Vec<u8>)>,
}

impl TryFrom<&AssetForm> for AssetInput {
    type Error = FieldErrors;

    fn try_from(form: &AssetForm) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        if form.title.is_empty() {
            errors.add("title", "Give the asset a title.");
        }
        let audience = Audience::parse(&form.min_tier_rank, &form.partner_kinds)
            .map_err(|refusals| errors.extend(refusals))
            .ok();
        let link = form.link_url.as_str();
        match (&form.file, &form.file_refused, link.is_empty()) {
            (_, Some(refusal), _) => errors.add("file", refusal.as_str()),
            (Some(_), None, false) => errors.add("link_url", "Give a file or a link, not both."),
            (None, None, true) => errors.add("file", "Upload a file or give a link."),
            (None, None, false) => errors.web_link(
                "link_url",
                link,
                false,
                "The link must be an http:// or https:// address.",
            ),
            (Some(_), None, true) => {}
        }
        let Some(Audience {
            min_tier_rank,
            partner_kinds,
        }) = audience.filter(|_| errors.is_empty())
        else {
            return Err(errors);
        };
        Ok(Self {
            title: form.title.clone(),
            description: form.description.clone(),
            category: form.category.clone(),
            min_tier_rank,
            partner_kinds,
            required_course_id: form.required_course_id.parse().ok(),
            link_url: form.link_url.clone(),
            file: form.file.clone(),
        })
    }
}

impl AssetInput {
    pub fn as_new_asset(&self) -> NewAsset<'_> {
        NewAsset {
            title: &self.title,
            description: &self.description,
            category: &self.category,
            min_tier_rank: self.min_tier_rank,
            partner_kinds: &self.partner_kinds,
            required_course_id: self.required_course_id,
            link_url: &self.link_url,
            file: self
                .file
                .as_ref()
                .map(|(name, kind, bytes)| (name.as_str(), kind.as_str(), bytes.as_slice())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link_form() -> AssetForm {
        AssetForm {
            title: "Logo pack".into(),
            min_tier_rank: "0".into(),
            partner_kinds: "reseller".into(),
            link_url: "https://cdn.example/logos.zip".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_link_or_a_file_but_not_both_nor_neither() {
        assert!(AssetInput::try_from(&link_form()).is_ok());
        let both = AssetForm {
            file: Some(("a.pdf".into(), "application/pdf".into(), b"%PDF".to_vec())),
            ..link_form()
        };
        assert!(AssetInput::try_from(&both)
            .unwrap_err()
            .get("link_url")
            .is_some());
        let neither = AssetForm {
            link_url: String::new(),
            ..link_form()
        };
        assert!(AssetInput::try_from(&neither)
            .unwrap_err()
            .get("file")
            .is_some());
        let not_web = AssetForm {
            link_url: "javascript:alert(1)".into(),
            ..link_form()
        };
        assert!(AssetInput::try_from(&not_web)
            .unwrap_err()
            .get("link_url")
            .is_some());
    }

    #[test]
    fn a_file_over_the_limit_is_explained_with_the_other_errors() {
        let form = AssetForm {
            title: String::new(),
            link_url: String::new(),
            file_refused: Some("Files can be at most 10 MiB.".into()),
            ..link_form()
        };
        let errors = AssetInput::try_from(&form).unwrap_err();
        assert_eq!(errors.get("file"), Some("Files can be at most 10 MiB."));
        assert!(errors.get("title").is_some());
    }
}
