//! The configuration's documentation stays true: README table and `.env.example` against clap.

use clap::CommandFactory;

#[test]
fn every_setting_is_documented_in_the_readme_and_env_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    shared::testing::assert_settings_documented(&auth_service::Config::command(), "auth", &root);
}
