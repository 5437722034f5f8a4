use alga_core::testing::TestDb;

use crate::support::{enterprise, run, stderr, stdout};

#[test]
fn version_names_the_edition() {
    let out = run(&["version"]);
    assert!(out.status.success());
    let expected = if enterprise() { "(enterprise)" } else { "(community)" };
    assert!(stdout(&out).starts_with("alga-server ") && stdout(&out).trim().ends_with(expected), "{}", stdout(&out));
}

#[test]
fn help_explains_every_flag_and_its_variable() {
    let out = run(&["serve", "--help"]);
    let help = stdout(&out);
    for flag in ["--bind", "--database-url", "--public-url", "--log-format", "--shutdown-timeout"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    for var in ["ALGA_BIND", "ALGA_DATABASE_URL", "ALGA_PUBLIC_URL", "ALGA_LOG_FORMAT"] {
        assert!(help.contains(var), "{var} missing from:\n{help}");
    }
}

#[test]
fn other_database_schemes_are_refused_listing_the_accepted_forms() {
    let out = run(&["migrate", "--database-url", "mysql://x"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("mysql://") && err.contains("postgres://") && err.contains("sqlite://"), "{err}");
}

#[test]
fn an_unreachable_database_fails_at_start_with_the_driver_message() {
    let out = run(&["serve", "--bind", "127.0.0.1:0", "--database-url", "postgres://alga:hunter2@127.0.0.1:1/alga"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("Connection refused") || err.contains("connection to server"), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
}

#[test]
fn a_wrong_postgres_password_fails_at_start_with_the_driver_message() {
    let db = TestDb::new();
    if db.backend() != alga_core::Backend::Postgres {
        return; // needs a PostgreSQL server: runs in the PostgreSQL pass of `cargo xtask ci`
    }
    let mut url = url::Url::parse(db.url().expose()).unwrap();
    url.set_password(Some("not-the-password")).unwrap();
    let out = run(&["serve", "--bind", "127.0.0.1:0", "--database-url", url.as_str()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("not-the-password"), "the password leaked: {err}");
}

#[test]
fn a_bad_public_url_is_refused() {
    let out = run(&["serve", "--bind", "127.0.0.1:0", "--database-url", "sqlite://x.db", "--public-url", "ftp://x"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--public-url"), "{}", stderr(&out));
}

/// Migration sets this binary applies, and how many migrations each holds, from `--status`.
fn status(url: &str) -> String {
    let out = run(&["migrate", "--status", "--database-url", url]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn migrate_applies_once_reports_status_and_round_trips() {
    let db = TestDb::new();
    let url = db.url().expose();
    let first = run(&["migrate", "--database-url", url]);
    assert!(first.status.success(), "{}", stderr(&first));
    let applied = stdout(&first).lines().filter(|l| l.starts_with("applied ")).count();
    assert!(applied >= 1);
    assert!(stdout(&first).contains("applied migrations-ce/"));
    assert_eq!(stdout(&first).contains("applied migrations-ee/"), enterprise(), "{}", stdout(&first));

    let second = run(&["migrate", "--database-url", url]);
    assert_eq!(stdout(&second).trim(), "nothing to apply: the database is up to date");

    let status_text = status(url);
    assert!(status_text.contains("migrations-ce: "), "{status_text}");
    assert_eq!(status_text.contains("migrations-ee: "), enterprise(), "{status_text}");
    assert!(status_text.contains(" 0 pending") && !status_text.contains("[pending]"), "{status_text}");

    let revert = run(&["migrate", "--revert", &applied.to_string(), "--database-url", url]);
    assert!(revert.status.success(), "{}", stderr(&revert));
    assert_eq!(stdout(&revert).lines().filter(|l| l.starts_with("reverted ")).count(), applied);
    assert!(!status(url).contains("[applied]"));

    let again = run(&["migrate", "--database-url", url]);
    assert_eq!(stdout(&again).lines().filter(|l| l.starts_with("applied ")).count(), applied);

    let too_many = run(&["migrate", "--revert", &(applied + 1).to_string(), "--database-url", url]);
    assert!(!too_many.status.success());
    assert!(!status(url).contains("[pending]"), "a refused revert changes nothing");
}

/// Each misconfiguration stops the start with a message naming what is wrong.
#[test]
fn misconfigurations_are_named_at_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let folder = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/alga.db", folder.path().display());
    let directory = format!("sqlite://{}", folder.path().display());
    for (args, expected) in [
        (
            vec!["serve", "--bind", "127.0.0.1:0", "--database-url", "sqlite:///dev/null/x/alga.db"],
            "cannot create the folder",
        ),
        (vec!["serve", "--bind", "127.0.0.1:0", "--database-url", &directory], "unable to open database file"),
        (vec!["serve", "--bind", &busy, "--database-url", &sqlite], "cannot listen on"),
        (
            vec!["serve", "--bind", "127.0.0.1:0", "--database-url", &sqlite, "--metrics-bind", &busy],
            "cannot listen for metrics",
        ),
        (
            vec!["serve", "--bind", "127.0.0.1:0", "--database-url", &sqlite, "--public-url", "not a url"],
            "--public-url",
        ),
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?} started");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    drop(taken);
}
