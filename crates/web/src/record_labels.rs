//! How the records' kinds, fields and choices are named (items 8, 10–13,
//! 19–21, 69–79): one translation key each, never built with `format!`.
//! The labels test finds every one in both languages.

use crate::i18n::Label;

impl Label for mamori_core::records::RecordKind {
    fn key(self) -> &'static str {
        use mamori_core::records::RecordKind::*;
        match self {
            Contract => "record-contract",
            Contact => "record-contact",
            Site => "record-site",
            Certification => "record-certification",
            Cloud => "record-cloud",
            Backup => "record-backup",
            Disposal => "record-disposal",
            Domain => "record-domain",
        }
    }
}

/// The label of a record's field (names are unique across the kinds).
pub fn record_field_key(name: &str) -> &'static str {
    match name {
        "scope" => "rf-scope",
        "vendor" => "rf-vendor",
        "starts" => "rf-starts",
        "ends" => "rf-ends",
        "description" => "rf-description",
        "document" => "rf-document",
        "order" => "rf-order",
        "person" => "rf-person",
        "role" => "rf-role",
        "phone" => "rf-phone",
        "hours" => "rf-hours",
        "email" => "rf-email",
        "place" => "rf-place",
        "site_name" => "rf-site-name",
        "region" => "rf-region",
        "ismap_number" => "rf-ismap-number",
        "in_japan" => "rf-in-japan",
        "scheme" => "rf-scheme",
        "holder" => "rf-holder",
        "cert_number" => "rf-cert-number",
        "expires" => "rf-expires",
        "service" => "rf-service",
        "governing_law" => "rf-governing-law",
        "court" => "rf-court",
        "sla" => "rf-sla",
        "measures_url" => "rf-measures-url",
        "contact_point" => "rf-contact-point",
        "frequency" => "rf-frequency",
        "generations" => "rf-generations",
        "remote_location" => "rf-remote-location",
        "last_restore_test" => "rf-last-restore-test",
        "what" => "rf-what",
        "disposed_on" => "rf-disposed-on",
        "method" => "rf-method",
        "certificate" => "rf-certificate",
        "domain" => "rf-domain",
        "registrar" => "rf-registrar",
        "domain_method" => "rf-domain-method",
        "planned" => "rf-planned",
        "retired" => "rf-retired",
        _ => "rf-unknown",
    }
}

/// The label of a choice a record's field offers.
pub fn record_choice_key(code: &str) -> &'static str {
    match code {
        "software" => "rc-software",
        "hardware" => "rc-hardware",
        "both" => "rc-both",
        "ward" => "rc-ward",
        "datacentre" => "rc-datacentre",
        "cloud" => "rc-cloud",
        "pmark" => "rc-pmark",
        "isms" => "rc-isms",
        "ismap" => "rc-ismap",
        "other" => "rc-other",
        "yes" => "rc-yes",
        "no" => "rc-no",
        _ => "rf-unknown",
    }
}

/// Every key of the records' kinds, fields and choices.
pub fn keys() -> Vec<&'static str> {
    let mut keys = Vec::new();
    keys.extend(mamori_core::records::RecordKind::ALL.iter().map(|x| x.key()));
    for kind in mamori_core::records::RecordKind::ALL {
        for f in kind.fields() {
            keys.push(record_field_key(f.name));
            match f.ty {
                mamori_core::records::FieldType::Choice(codes) => {
                    keys.extend(codes.iter().map(|c| record_choice_key(c)))
                }
                mamori_core::records::FieldType::YesNo => keys.extend(["yes", "no"].map(record_choice_key)),
                _ => {}
            }
        }
    }
    keys
}
