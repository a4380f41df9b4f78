//! The built binary's subcommands besides serving (`keys` has its own module): `auth-service
//! migrate`, what a deployment's migration job runs.

#[tokio::test]
async fn migrate_applies_the_schema_once_and_a_second_run_is_a_no_op() {
    shared::testing::assert_migrate_subcommand(
        env!("CARGO_BIN_EXE_auth-service"),
        &auth_service::db::SCHEMA,
        "auth.users",
    )
    .await;
}
