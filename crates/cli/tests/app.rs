//! The server built in-process from settings, as `rempart serve` builds it.

use crate::util::Install;
use rempart::settings::{Layer, Settings};

fn settings(i: &Install, extra: &str) -> Settings {
    let config = i.data.with_file_name("rempart.toml");
    std::fs::write(
        &config,
        format!(
            "{}[witness]\nsyslog = \"off\"\n{}[serve]\nlisten = \"127.0.0.1:0\"\n{extra}",
            i.store_toml(),
            i.witness_toml()
        ),
    )
    .unwrap();
    Settings::load(Some(&config), Layer::default()).unwrap()
}

#[test]
fn an_application_built_from_settings_serves_on_a_free_port_and_signs_a_checkpoint_on_stop() {
    let i = Install::new();
    let token = i.token("c.durand", "counsellor", "ML-075-13");
    let s = settings(&i, "");
    let app = rempart::Application::build(&s).unwrap();
    let addr = app.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    assert_eq!(app.scheme(), "http");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        app.run_until(async {
            let _ = stopped.await;
        })
    });
    let client = reqwest::blocking::Client::new();
    let base = format!("http://{addr}");
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let r = client
        .get(format!("{base}/v1/persons?purpose=accompaniment"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .get(format!("{base}/v1/persons?purpose=accompaniment"))
        .bearer_auth("not-a-token")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    stop.send(()).unwrap();
    server.join().unwrap().unwrap();
    // The listing was recorded, and the last checkpoint on the way out covers it.
    let witness = std::fs::read_to_string(i.witness_file()).unwrap();
    assert!(!witness.trim().is_empty(), "no checkpoint in the witness");
    let o = i.run(&["audit", "verify"]);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
}

#[test]
fn settings_that_cannot_be_served_are_refused_before_anything_is_bound() {
    let i = Install::new();
    let s = settings(&i, "checkpoint_every = 0\n");
    let e = rempart::Application::build(&s).err().expect("refused");
    assert!(format!("{e:#}").contains("checkpoint_every"), "{e:#}");
    let s = settings(&i, "max_in_flight = 0\n");
    let e = rempart::Application::build(&s).err().expect("refused");
    assert!(format!("{e:#}").contains("max_in_flight"), "{e:#}");
    // An address already taken is named.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = settings(&i, "");
    s.serve.listen = taken.local_addr().unwrap().to_string();
    let e = rempart::Application::build(&s).err().expect("refused");
    assert!(format!("{e:#}").contains("listening on"), "{e:#}");
}
