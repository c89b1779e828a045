//! What a developer sees when an `#[actor]` trait is wrong: errors that point at their code
//! (the method, the return type, the parameter), checked against `tests/ui/*.stderr`.
//! `TRYBUILD=overwrite cargo test -p orbit-client --test macro_errors` rewrites them after a
//! deliberate change of wording (or a new rustc's formatting).

#[test]
fn actor_interface_errors_point_at_the_users_code() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
