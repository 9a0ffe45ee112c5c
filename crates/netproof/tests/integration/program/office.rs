//! The office family's plans (plans/office/, docs/test-program/office.md).

prove!(
    netns_program_office_dns_failover,
    "office/dns-failover.toml"
);
prove!(
    netns_program_office_site_to_site_timed,
    "office/site-to-site.toml"
);
prove!(
    netns_program_office_wan_bufferbloat_timed,
    "office/wan-bufferbloat.toml"
);
