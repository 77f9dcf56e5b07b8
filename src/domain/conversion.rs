//! What a conversion is and where it stands in fraud review.

crate::text_enum!(ConversionKind {
    Lead => "lead" / "Lead",
    Sale => "sale" / "Sale",
});

crate::text_enum!(ReviewStatus {
    None => "none" / "Not flagged",
    Held => "held" / "Held for review",
    Approved => "approved" / "Approved after review",
    Rejected => "rejected" / "Rejected after review",
});
