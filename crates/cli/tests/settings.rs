use crate::util::{rempart, stderr, Install};

/// A token created with `extra` arguments and environment; its checkpoint goes to the witness
/// file in force.
fn mint(config: &std::path::Path, env: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
    let agency = rempart_synth::agency_codes(1)[0].clone();
    let mut c = rempart();
    c.args([
        "token",
        "create",
        "--principal",
        "a",
        "--role",
        "dpo",
        "--agency",
        &agency,
        "--config",
        config.to_str().unwrap(),
    ])
    .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn lines(p: &std::path::Path) -> usize {
    std::fs::read_to_string(p)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

embedded_only! {
    #[test]
    fn a_flag_wins_over_its_variable_which_wins_over_the_file() {
        let i = Install::new();
        let dir = i.data.parent().unwrap();
        let config = dir.join("rempart.toml");
        // Paths relative to the file's directory; the installation comes from the file alone.
        std::fs::write(
            &config,
            "[store]\ndata = \"data\"\nkey_file = \"master.key\"\n\
             [witness]\nfile = \"from-file.witness\"\nsyslog = \"off\"\n",
        )
        .unwrap();
        let (file, env, flag) = (
            dir.join("from-file.witness"),
            dir.join("from-env.witness"),
            dir.join("from-flag.witness"),
        );

        let o = mint(&config, &[], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!((lines(&file), lines(&env), lines(&flag)), (1, 0, 0));

        let o = mint(&config, &[("REMPART_WITNESS", env.to_str().unwrap())], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!((lines(&file), lines(&env), lines(&flag)), (1, 1, 0));

        let o = mint(
            &config,
            &[("REMPART_WITNESS", env.to_str().unwrap())],
            &["--witness", flag.to_str().unwrap()],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!((lines(&file), lines(&env), lines(&flag)), (1, 1, 1));

        // REMPART_CONFIG names the file as --config does.
        let o = rempart()
            .args(["token", "list"])
            .env("REMPART_CONFIG", &config)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 4);
    }
}

#[test]
fn a_bad_configuration_file_stops_the_command_naming_file_line_and_key_never_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rempart.toml");
    let run = |text: &str| {
        std::fs::write(&config, text).unwrap();
        rempart()
            .args(["token", "list", "--config", config.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let named = |o: &std::process::Output, what: &str| {
        let e = stderr(o);
        assert!(!o.status.success(), "{e}");
        assert!(
            e.contains(&format!("configuration file {}, {what}", config.display())),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    };
    named(
        &run("[store]\ndata = \"/d\"\ndatabse_url = \"postgres://u:hunter2@db/x\"\n"),
        "line 3: unknown key `store.databse_url`",
    );
    named(
        &run("[witness]\nsyslog = \"off\"\nurl = [\"https://u:hunter2@w.example/\"]\n"),
        "line 3: `witness.url`: wrong type, expected a string",
    );
    named(
        &run("[store]\ndatabase_url = \"postgres://u:hunter2@db/x\n"),
        "line 2: ",
    );

    let o = rempart()
        .args(["token", "list"])
        .env("REMPART_CONFIG", dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!(
            "configuration file {}: ",
            dir.path().join("missing.toml").display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn secrets_of_the_environment_are_not_shown_by_help_or_errors() {
    let secret_env = [
        ("REMPART_DATABASE_URL", "postgres://u:hunter2@db.invalid/x"),
        (
            "REMPART_KEYS_DATABASE_URL",
            "postgres://k:hunter2@db.invalid/k",
        ),
        ("REMPART_WITNESS_URL", "https://u:hunter2@w.example/x"),
    ];
    let o = rempart()
        .args(["serve", "--help"])
        .envs(secret_env)
        .output()
        .unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("REMPART_DATABASE_URL"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
    let o = rempart()
        .args(["token", "list"])
        .envs(secret_env)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--key-file"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
}

/// README's lasting installation: `rempart init --data DIR`, then `rempart --config FILE serve`
/// with the example configuration (its store pointed at DIR, on a free port).
#[test]
fn readme_init_then_serve_with_the_example_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let o = rempart()
        .current_dir(dir.path())
        .args(["init", "--data", "data"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        dir.path().join("data.key").exists(),
        "no key file beside the data"
    );
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rempart.example.toml"
    ))
    .unwrap()
    .replacen("[store]\n", "[store]\ndata = \"data\"\n", 1)
    .replacen("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"", 1)
    .replacen("[witness]\n", "[witness]\nsyslog = \"off\"\n", 1);
    let config = dir.path().join("rempart.toml");
    std::fs::write(&config, example).unwrap();
    let (s, _) = crate::util::serve_command(rempart().current_dir(dir.path()).args([
        "--config",
        "rempart.toml",
        "serve",
    ]));
    assert_eq!(s.get(None, "/healthz").status, 200);
}
