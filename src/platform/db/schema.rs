//! Hand-written so one schema serves both backends: portable types only (BIGINT ids and money, TEXT, BOOLEAN,
//! TIMESTAMP in UTC). Keep in step with `migrations/{sqlite,postgres}`.

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    programs (id) {
        id -> BigInt,
        name -> Text,
        currency -> Text,
        created_at -> Timestamp,
        cookie_window_days -> BigInt,
        attribution_model -> Text,
        terms_text -> Text,
        terms_version -> BigInt,
        auto_approve_affiliates -> Bool,
        default_landing_url -> Text,
        allowed_domains -> Text,
        min_seconds_to_convert -> BigInt,
        max_conversions_per_ip_hour -> BigInt,
        max_links_per_partner -> BigInt,
        blocked_ips -> Text,
        hold_days -> BigInt,
        agreement_text -> Text,
        agreement_version -> BigInt,
        tier_grace_days -> BigInt,
        deal_sla_hours -> BigInt,
        deal_protection_days -> BigInt,
        deal_auto_approve_below_minor -> Nullable<BigInt>,
        deal_requires_certification -> Bool,
        deal_reps_see_org -> Bool,
        mdf_reimbursement_bps -> BigInt,
        mdf_claim_days -> BigInt,
        payout_minimum_minor -> BigInt,
        payout_day -> Nullable<BigInt>,
    }
}

diesel::table! {
    tiers (id) {
        id -> BigInt,
        program_id -> BigInt,
        name -> Text,
        rank -> BigInt,
        description -> Text,
        margin_bps -> BigInt,
        commission_override_bps -> Nullable<BigInt>,
        mdf_allowance_minor -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        min_won_revenue_minor -> BigInt,
        min_certified_reps -> BigInt,
        min_won_deals -> BigInt,
        min_sales_revenue_minor -> BigInt,
    }
}

diesel::table! {
    partner_orgs (id) {
        id -> BigInt,
        program_id -> BigInt,
        name -> Text,
        kind -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        tier_id -> Nullable<BigInt>,
        country -> Text,
        website_domain -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        promotion_method -> Text,
        terms_version -> Nullable<BigInt>,
        terms_accepted_at -> Nullable<Timestamp>,
        partner_type -> Text,
        company_size -> Text,
        application_note -> Text,
        tier_override -> Bool,
        tier_override_until -> Nullable<Timestamp>,
        demotion_warned_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        partner_org_id -> Nullable<BigInt>,
        active -> Bool,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> BigInt,
        email -> Text,
        succeeded -> Bool,
        ip -> Text,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    rate_limit_events (id) {
        id -> BigInt,
        bucket -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    partner_tier_history (id) {
        id -> BigInt,
        partner_org_id -> BigInt,
        from_tier_id -> Nullable<BigInt>,
        to_tier_id -> Nullable<BigInt>,
        from_tier_name -> Text,
        to_tier_name -> Text,
        reason -> Text,
        changed_by_user_id -> Nullable<BigInt>,
        changed_at -> Timestamp,
        metrics -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_user_id -> Nullable<BigInt>,
        actor_label -> Text,
        action -> Text,
        subject_type -> Text,
        subject_id -> Nullable<BigInt>,
        subject_label -> Text,
        reason -> Nullable<Text>,
        before_summary -> Nullable<Text>,
        after_summary -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        name -> Text,
        key_prefix -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    links (id) {
        id -> BigInt,
        partner_org_id -> BigInt,
        code -> Text,
        destination_url -> Text,
        sub_id -> Text,
        utm_source -> Text,
        utm_medium -> Text,
        utm_campaign -> Text,
        is_default -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    coupons (id) {
        id -> BigInt,
        partner_org_id -> BigInt,
        code -> Text,
        code_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    click_rollups (hour, link_id, filtered_reason) {
        hour -> Timestamp,
        link_id -> BigInt,
        partner_org_id -> BigInt,
        filtered_reason -> Text,
        clicks -> BigInt,
    }
}

diesel::table! {
    clicks (id) {
        id -> BigInt,
        click_id -> Text,
        link_id -> BigInt,
        partner_org_id -> BigInt,
        clicked_at -> Timestamp,
        ip_hash -> Text,
        user_agent -> Text,
        referrer -> Text,
        sub_id -> Text,
        prior_click_id -> Nullable<Text>,
        filtered_reason -> Nullable<Text>,
    }
}

diesel::table! {
    customers (id) {
        id -> BigInt,
        program_id -> BigInt,
        external_id -> Text,
        partner_org_id -> BigInt,
        bound_at -> Timestamp,
    }
}

diesel::table! {
    conversions (id) {
        id -> BigInt,
        program_id -> BigInt,
        external_id -> Text,
        kind -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        partner_org_id -> Nullable<BigInt>,
        attributed_by -> Nullable<Text>,
        click_id -> Nullable<Text>,
        customer_external_id -> Nullable<Text>,
        coupon_code -> Nullable<Text>,
        product -> Nullable<Text>,
        customer_email -> Nullable<Text>,
        ip_hash -> Nullable<Text>,
        occurred_at -> Timestamp,
        created_at -> Timestamp,
        review_status -> Text,
        flag_reasons -> Text,
        review_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refunds (id) {
        id -> BigInt,
        program_id -> BigInt,
        refund_id -> Text,
        conversion_id -> BigInt,
        amount_minor -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    commission_rules (id) {
        id -> BigInt,
        program_id -> BigInt,
        position -> BigInt,
        name -> Text,
        applies_to -> Text,
        rate_type -> Text,
        rate -> BigInt,
        product_filter -> Text,
        tier_id -> Nullable<BigInt>,
        volume_threshold -> Nullable<BigInt>,
        volume_rate -> Nullable<BigInt>,
        recurrence -> Text,
        recurring_months -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        partner_org_id -> BigInt,
        amount_minor -> BigInt,
        currency -> Text,
        kind -> Text,
        status -> Text,
        available_at -> Timestamp,
        source_type -> Text,
        source_id -> BigInt,
        conversion_id -> Nullable<BigInt>,
        rule_id -> Nullable<BigInt>,
        explanation -> Text,
        created_at -> Timestamp,
        status_changed_at -> Timestamp,
        status_reason -> Nullable<Text>,
    }
}

diesel::table! {
    agreement_acceptances (id) {
        id -> BigInt,
        partner_org_id -> BigInt,
        user_id -> BigInt,
        version -> BigInt,
        accepted_at -> Timestamp,
        ip -> Text,
    }
}

diesel::table! {
    courses (id) {
        id -> BigInt,
        program_id -> BigInt,
        title -> Text,
        summary -> Text,
        pass_mark_percent -> BigInt,
        validity_months -> BigInt,
        retake_cooldown_hours -> BigInt,
        partner_kinds -> Text,
        min_tier_rank -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    course_modules (id) {
        id -> BigInt,
        course_id -> BigInt,
        position -> BigInt,
        title -> Text,
        body -> Text,
        link_url -> Text,
    }
}

diesel::table! {
    quiz_questions (id) {
        id -> BigInt,
        course_id -> BigInt,
        position -> BigInt,
        prompt -> Text,
        options -> Text,
        correct -> Text,
    }
}

diesel::table! {
    module_progress (id) {
        id -> BigInt,
        user_id -> BigInt,
        module_id -> BigInt,
        completed_at -> Timestamp,
    }
}

diesel::table! {
    quiz_attempts (id) {
        id -> BigInt,
        user_id -> BigInt,
        course_id -> BigInt,
        score_percent -> BigInt,
        passed -> Bool,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    certifications (id) {
        id -> BigInt,
        code -> Text,
        user_id -> BigInt,
        partner_org_id -> BigInt,
        course_id -> BigInt,
        passed_at -> Timestamp,
        expires_at -> Timestamp,
        reminded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    assets (id) {
        id -> BigInt,
        program_id -> BigInt,
        title -> Text,
        description -> Text,
        category -> Text,
        min_tier_rank -> BigInt,
        partner_kinds -> Text,
        required_course_id -> Nullable<BigInt>,
        link_url -> Text,
        file_name -> Text,
        content_type -> Text,
        file_bytes -> Nullable<Binary>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(certifications -> courses (course_id));
diesel::joinable!(module_progress -> course_modules (module_id));
diesel::joinable!(certifications -> users (user_id));
diesel::joinable!(ledger_entries -> conversions (conversion_id));
diesel::joinable!(links -> partner_orgs (partner_org_id));
diesel::joinable!(coupons -> partner_orgs (partner_org_id));
diesel::joinable!(clicks -> links (link_id));
diesel::joinable!(refunds -> conversions (conversion_id));
diesel::joinable!(tiers -> programs (program_id));
diesel::joinable!(partner_orgs -> programs (program_id));
diesel::joinable!(partner_orgs -> tiers (tier_id));
diesel::joinable!(users -> partner_orgs (partner_org_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(partner_tier_history -> partner_orgs (partner_org_id));

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    deal_stages,
    products,
    deal_custom_fields,
    direct_accounts,
    deals,
    deal_extensions,
    deal_events,
    programs,
    tiers,
    partner_orgs,
    users,
    sessions,
    login_attempts,
    click_rollups,
    partner_tier_history,
    rate_limit_events,
    audit_log,
    api_keys,
    outbox,
    job_status,
    password_resets,
    invitations,
    links,
    coupons,
    clicks,
    customers,
    conversions,
    refunds,
    commission_rules,
    ledger_entries,
    agreement_acceptances,
    courses,
    course_modules,
    quiz_questions,
    module_progress,
    quiz_attempts,
    certifications,
    assets,
    mdf_funds,
    mdf_allocations,
    mdf_requests,
    mdf_claims,
    mdf_claim_deals,
    mdf_proof_files,
    mdf_expiries,
    mdf_events,
    payout_accounts,
    payout_runs,
    payouts,
    payout_entries,
    stripe_events,
    webhook_endpoints,
    webhook_deliveries,
);

diesel::table! {
    outbox (id) {
        id -> BigInt,
        template -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        message_id -> Text,
        status -> Text,
        attempts -> BigInt,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    job_status (name) {
        name -> Text,
        last_started_at -> Timestamp,
        last_finished_at -> Timestamp,
        last_duration_ms -> BigInt,
        last_ok -> Bool,
        last_detail -> Text,
        runs -> BigInt,
        failures -> BigInt,
    }
}

diesel::table! {
    password_resets (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        partner_org_id -> BigInt,
        email -> Text,
        role -> Text,
        token_hash -> Text,
        invited_by_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    deal_stages (id) {
        id -> BigInt,
        program_id -> BigInt,
        position -> BigInt,
        name -> Text,
        probability_percent -> BigInt,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        program_id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    deal_custom_fields (id) {
        id -> BigInt,
        program_id -> BigInt,
        position -> BigInt,
        label -> Text,
        field_type -> Text,
        options -> Text,
        required -> Bool,
        active -> Bool,
    }
}

diesel::table! {
    direct_accounts (id) {
        id -> BigInt,
        program_id -> BigInt,
        company_name -> Text,
        company_key -> Text,
        domain -> Text,
        account_owner -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    deals (id) {
        id -> BigInt,
        program_id -> BigInt,
        partner_org_id -> BigInt,
        registered_by_user_id -> BigInt,
        customer_name -> Text,
        customer_key -> Text,
        customer_domain -> Text,
        contact_name -> Text,
        contact_email -> Text,
        contact_title -> Text,
        country -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        expected_close_date -> Date,
        products -> Text,
        description -> Text,
        custom_fields -> Text,
        justification -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        stage_id -> Nullable<BigInt>,
        submitted_at -> Timestamp,
        first_decided_at -> Nullable<Timestamp>,
        approved_at -> Nullable<Timestamp>,
        protection_until -> Nullable<Timestamp>,
        escalated_at -> Nullable<Timestamp>,
        expiry_warned_at -> Nullable<Timestamp>,
        won_amount_minor -> Nullable<BigInt>,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deal_extensions (id) {
        id -> BigInt,
        deal_id -> BigInt,
        justification -> Text,
        requested_by_user_id -> BigInt,
        requested_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        granted_days -> Nullable<BigInt>,
        refusal_reason -> Nullable<Text>,
    }
}

diesel::table! {
    deal_events (id) {
        id -> BigInt,
        deal_id -> BigInt,
        actor_user_id -> Nullable<BigInt>,
        actor_label -> Text,
        kind -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(deals -> partner_orgs (partner_org_id));
diesel::joinable!(deals -> deal_stages (stage_id));
diesel::joinable!(deal_events -> deals (deal_id));
diesel::joinable!(deal_extensions -> deals (deal_id));
diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(invitations -> partner_orgs (partner_org_id));

diesel::table! {
    mdf_funds (id) {
        id -> BigInt,
        program_id -> BigInt,
        name -> Text,
        currency -> Text,
        starts_on -> Date,
        ends_on -> Date,
        accrual_bps -> BigInt,
        expired_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mdf_allocations (id) {
        id -> BigInt,
        fund_id -> BigInt,
        tier_id -> Nullable<BigInt>,
        partner_org_id -> Nullable<BigInt>,
        amount_minor -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mdf_requests (id) {
        id -> BigInt,
        fund_id -> BigInt,
        partner_org_id -> BigInt,
        requested_by_user_id -> BigInt,
        activity_type -> Text,
        title -> Text,
        description -> Text,
        starts_on -> Date,
        ends_on -> Date,
        requested_minor -> BigInt,
        currency -> Text,
        expected_leads -> BigInt,
        expected_pipeline_minor -> BigInt,
        status -> Text,
        status_reason -> Nullable<Text>,
        approved_minor -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        claim_due_on -> Nullable<Date>,
        claim_reminded_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mdf_claims (id) {
        id -> BigInt,
        request_id -> BigInt,
        submitted_by_user_id -> BigInt,
        actual_cost_minor -> BigInt,
        claimed_minor -> BigInt,
        leads_generated -> BigInt,
        results -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        submitted_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mdf_claim_deals (id) {
        id -> BigInt,
        claim_id -> BigInt,
        deal_id -> BigInt,
    }
}

diesel::table! {
    mdf_proof_files (id) {
        id -> BigInt,
        request_id -> BigInt,
        partner_org_id -> BigInt,
        stored_name -> Text,
        original_name -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        uploaded_by_user_id -> BigInt,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    mdf_expiries (id) {
        id -> BigInt,
        fund_id -> BigInt,
        partner_org_id -> BigInt,
        amount_minor -> BigInt,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mdf_events (id) {
        id -> BigInt,
        request_id -> BigInt,
        actor_user_id -> Nullable<BigInt>,
        actor_label -> Text,
        kind -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(mdf_allocations -> mdf_funds (fund_id));
diesel::joinable!(mdf_requests -> mdf_funds (fund_id));
diesel::joinable!(mdf_requests -> partner_orgs (partner_org_id));
diesel::joinable!(mdf_claims -> mdf_requests (request_id));
diesel::joinable!(mdf_claim_deals -> mdf_claims (claim_id));
diesel::joinable!(mdf_claim_deals -> deals (deal_id));
diesel::joinable!(mdf_events -> mdf_requests (request_id));
diesel::joinable!(mdf_proof_files -> partner_orgs (partner_org_id));

diesel::table! {
    payout_accounts (id) {
        id -> BigInt,
        partner_org_id -> BigInt,
        stripe_account_id -> Text,
        payouts_enabled -> Bool,
        details_submitted -> Bool,
        requirements -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payout_runs (id) {
        id -> BigInt,
        program_id -> BigInt,
        rail -> Text,
        status -> Text,
        started_by -> Text,
        reference -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payouts (id) {
        id -> BigInt,
        run_id -> BigInt,
        partner_org_id -> BigInt,
        amount_minor -> BigInt,
        currency -> Text,
        rail -> Text,
        status -> Text,
        stripe_account_id -> Nullable<Text>,
        stripe_transfer_id -> Nullable<Text>,
        failure_message -> Nullable<Text>,
        reference -> Text,
        ledger_entry_id -> Nullable<BigInt>,
        period_from -> Timestamp,
        period_to -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        attempts -> BigInt,
        created_at -> Timestamp,
        paid_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payout_entries (id) {
        id -> BigInt,
        payout_id -> BigInt,
        ledger_entry_id -> BigInt,
    }
}

diesel::joinable!(payouts -> payout_runs (run_id));
diesel::joinable!(payouts -> partner_orgs (partner_org_id));
diesel::joinable!(payout_entries -> payouts (payout_id));
diesel::joinable!(payout_entries -> ledger_entries (ledger_entry_id));

diesel::table! {
    stripe_events (id) {
        id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        outcome -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        program_id -> BigInt,
        url -> Text,
        secret -> Text,
        events -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_status_code -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
