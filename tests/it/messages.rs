//! Every transactional message, rendered from its templates: both parts, the program's name (escaped in HTML), a
//! link back and the same footer. The messages live in their contexts' `notices`; this checks them side by side.

use concord::accounts::notices::{PasswordReset, TeamInvitation};
use concord::deals::notices::{DealOverdue, DealUpdate};
use concord::mdf::notices::{MdfReview, MdfUpdate};
use concord::partners::notices::{
    ApplicationReceived, NewApplication, PartnerApproved, PartnerRejected, PartnerSuspended,
};
use concord::payouts::notices::PayoutStatement;
use concord::placement::notices::TierWarning;
use concord::platform::mail::Frame;
use concord::training::notices::CertificationExpiring;

fn frame() -> Frame {
    Frame {
        program_name: "Acme <Partners>".into(),
        base_url: "https://partners.acme.example".into(),
    }
}

#[test]
fn every_message_has_both_parts_the_program_a_link_and_the_footer() {
    let emails = vec![
        ApplicationReceived {
            frame: frame(),
            org_name: "Bo's Blog".into(),
            applicant_name: "Bo".into(),
            status_url: frame().link("/portal"),
        }
        .render("bo@example.test")
        .unwrap(),
        NewApplication {
            frame: frame(),
            org_name: "Bo's Blog".into(),
            kind_label: "Affiliate".into(),
            review_url: frame().link("/admin/partners/7"),
        }
        .render("admin@example.test")
        .unwrap(),
        PartnerApproved {
            frame: frame(),
            org_name: "Bo's Blog".into(),
            reinstated: false,
            portal_url: frame().link("/portal"),
        }
        .render("bo@example.test")
        .unwrap(),
        PartnerRejected {
            frame: frame(),
            org_name: "Bo's Blog".into(),
            reason: "Coupon-only <site>".into(),
        }
        .render("bo@example.test")
        .unwrap(),
        PartnerSuspended {
            frame: frame(),
            org_name: "Bo's Blog".into(),
            reason: "Review".into(),
        }
        .render("bo@example.test")
        .unwrap(),
        PasswordReset {
            frame: frame(),
            name: "Bo".into(),
            reset_url: frame().link("/password-reset/abc"),
            valid_minutes: 60,
        }
        .render("bo@example.test")
        .unwrap(),
        TeamInvitation {
            frame: frame(),
            org_name: "Northwind".into(),
            inviter_name: "Nia".into(),
            accept_url: frame().link("/invitations/abc"),
            valid_days: 7,
        }
        .render("raj@example.test")
        .unwrap(),
        TierWarning {
            frame: frame(),
            org_name: "Northwind".into(),
            tier_name: "Gold".into(),
            until: "2026-12-31".into(),
            numbers: "0.00 USD affiliate sales".into(),
            portal_url: frame().link("/portal"),
        }
        .render("nia@example.test")
        .unwrap(),
        DealUpdate {
            frame: frame(),
            org_name: "Northwind".into(),
            deal_title: "#7 Acme".into(),
            headline: "Deal #7 Acme approved".into(),
            detail: "Protected until 2027-02-21.".into(),
            reason: String::new(),
            deal_url: frame().link("/portal/deals/7"),
        }
        .render("nia@example.test")
        .unwrap(),
        DealOverdue {
            frame: frame(),
            partner_name: "Northwind".into(),
            deal_title: "#7 Acme".into(),
            waiting: "6 h overdue".into(),
            sla_hours: 48,
            review_url: frame().link("/admin/deals/7"),
        }
        .render("admin@example.test")
        .unwrap(),
        MdfUpdate {
            frame: frame(),
            org_name: "Northwind".into(),
            headline: "MDF request #3 Trade show approved".into(),
            detail: "Approved 1,000.00 EUR; claim by 2027-02-01.".into(),
            reason: String::new(),
            request_url: frame().link("/portal/mdf/3"),
        }
        .render("nia@example.test")
        .unwrap(),
        MdfReview {
            frame: frame(),
            what: "A new MDF request".into(),
            partner_name: "Northwind".into(),
            title: "MDF #3 Trade show".into(),
            amount: "1,000.00 EUR".into(),
            review_url: frame().link("/admin/mdf/3"),
        }
        .render("admin@example.test")
        .unwrap(),
        PayoutStatement {
            frame: frame(),
            org_name: "Northwind".into(),
            payout_id: 4,
            amount: "1,234.56 USD".into(),
            period: "2026-10-01 to 2026-10-31".into(),
            rail: "Stripe".into(),
            lines: vec!["2026-10-02 Commission 1,240.00 USD: sale #12".into()],
            netted: "-5.44 USD".into(),
            statement_url: frame().link("/portal/payouts/4"),
        }
        .render("nia@example.test")
        .unwrap(),
        CertificationExpiring {
            frame: frame(),
            name: "Raj".into(),
            course: "Sales basics".into(),
            expires: "2026-12-31".into(),
            course_url: frame().link("/portal/training/1"),
        }
        .render("raj@example.test")
        .unwrap(),
    ];
    for email in emails {
        assert!(
            !email.subject.is_empty() && !email.subject.contains('\n'),
            "{}: {:?}",
            email.template,
            email.subject
        );
        assert!(
            email.text.contains("Acme <Partners>"),
            "{}: program name in the text part",
            email.template
        );
        assert!(
            email.html.contains("Acme &#60;Partners&#62;")
                || email.html.contains("Acme &lt;Partners&gt;"),
            "{}: escaped in HTML",
            email.template
        );
        assert!(
            email.text.contains("https://partners.acme.example"),
            "{}: link in the text part",
            email.template
        );
        assert!(
            email.html.contains("href=\"https://partners.acme.example"),
            "{}: link in the HTML part",
            email.template
        );
        assert!(
            email
                .text
                .contains("You receive this message because of your account"),
            "{}: footer",
            email.template
        );
        assert!(!email.text.to_lowercase().contains("unsubscribe"));
    }
}

#[test]
fn a_rejection_carries_the_reason_escaped_in_html() {
    let email = PartnerRejected {
        frame: frame(),
        org_name: "Bo".into(),
        reason: "Coupon-only <site>".into(),
    }
    .render("bo@example.test")
    .unwrap();
    assert!(email.text.contains("Coupon-only <site>"));
    assert!(!email.html.contains("<site>"));
}
