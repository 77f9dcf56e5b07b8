//! Who a user is to the program: staff (admins and channel/affiliate managers) or a member of a partner org.

crate::text_enum!(Role {
    Admin => "admin" / "Administrator",
    Manager => "manager" / "Partner manager",
    PartnerAdmin => "partner_admin" / "Partner admin",
    PartnerUser => "partner_user" / "Partner user",
});

impl Role {
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Manager)
    }

    pub fn is_partner(self) -> bool {
        !self.is_staff()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_splits_staff_from_partners() {
        for &role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_ne!(role.is_staff(), role.is_partner());
        }
        assert!(Role::Manager.is_staff());
        assert!(Role::PartnerUser.is_partner());
    }
}
