use crate::util::{logged_request_ids, stderr, Install};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn file(n: usize) -> serde_json::Value {
    json!({
        "agency": "ML-075-13",
        "identity": {"last_name": "Martin", "first_names": "Léa", "birth_date": "2006-04-17", "sex": "F", "nationality": "FR"},
        "contact": {"email": format!("crash{n}@example.fr")},
        "followup": {"registered_on": "2024-09-02", "status": "registered", "counsellor": "c.durand"}
    })
}

/// What the clients saw answered: request ids with a success status, and the files created.
#[derive(Default)]
struct Answered {
    ids: Vec<String>,
    created: Vec<String>,
}

embedded_only! {
    /// The server is killed (SIGKILL) while clients create and read files. Every act it answered
    /// with a success is in the log once the installation is opened again (a write's entry from the
    /// outbox, a read's from the log itself: it was durable before the answer), the log verifies,
    /// and every file created is there.
    #[test]
    fn every_act_answered_before_a_kill_is_in_the_log_and_the_log_verifies() {
        let i = Install::new();
        let t = i.token("c.durand", "counsellor", "ML-075-13");
        // Containment off: the clients read hundreds of files in seconds, and this test is about
        // the log, not about them being refused.
        let mut s = i.serve_with(&["--guard", "off"]);
        let answered = Arc::new(Mutex::new(Answered::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicUsize::new(0));
        let base = s.base.clone();
        // One client creating files, two reading those already created.
        let mut clients = Vec::new();
        for k in 0..3 {
            let (answered, stop, reads) = (answered.clone(), stop.clone(), reads.clone());
            let (client, base, t) = (s.client.clone(), base.clone(), t.clone());
            clients.push(std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let rid = format!("crash-{k}-{n}");
                    let req = if k == 0 {
                        client.post(format!("{base}/v1/persons")).json(&file(n))
                    } else {
                        let created = answered.lock().unwrap().created.clone();
                        let Some(id) = created.get(n % created.len().max(1)) else {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        };
                        client.get(format!("{base}/v1/persons/{id}?purpose=accompaniment"))
                    };
                    // After the kill, requests fail: that ends the client.
                    let Ok(r) = req.bearer_auth(&t).header("x-request-id", &rid).send() else {
                        return;
                    };
                    let status = r.status().as_u16();
                    let Ok(body) = r.json::<serde_json::Value>() else {
                        return;
                    };
                    let mut a = answered.lock().unwrap();
                    match (k, status) {
                        (0, 201) => {
                            a.created.push(body["id"].as_str().unwrap().to_string());
                            a.ids.push(rid);
                        }
                        (1.., 200) => {
                            a.ids.push(rid);
                            reads.fetch_add(1, Ordering::Relaxed);
                        }
                        // The log refusing (fail closed) is not an answer.
                        (_, 500..) => {}
                        _ => panic!("request {rid}: status {status}: {body}"),
                    }
                }
            }));
        }
        let start = Instant::now();
        while reads.load(Ordering::Relaxed) < 200 && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Another process holds the log's write lock, so that the server's last batches cannot
        // commit; the server is killed while requests wait for them. A request answered before its
        // entry was durable would be answered now, and its entry lost with the process.
        let log = rusqlite::Connection::open(i.sqlite_dir().join("audit.db")).unwrap();
        log.execute_batch("BEGIN IMMEDIATE").unwrap();
        let locked_at = reads.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        s.kill();
        log.execute_batch("ROLLBACK").unwrap();
        drop(log);
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        let answered = std::mem::take(&mut *answered.lock().unwrap());
        assert!(
            reads.load(Ordering::Relaxed) >= 200 && answered.created.len() >= 3,
            "too little load before the kill: {} reads, {} files",
            reads.load(Ordering::Relaxed),
            answered.created.len()
        );

        let o = i.run(&["audit", "verify"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let logged = logged_request_ids(&i.run(&["audit", "export"]));
        let missing: Vec<&String> = answered
            .ids
            .iter()
            .filter(|r| !logged.contains(*r))
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {} answered requests have no entry: {missing:?}; {} reads answered after the log was locked",
            missing.len(),
            answered.ids.len(),
            reads.load(Ordering::Relaxed) - locked_at
        );
        // The log verifies after the restart too (its last checkpoint was not signed at the kill).
        let s = i.serve_with(&["--guard", "off"]);
        for id in &answered.created {
            let r = s.get(Some(&t), &format!("/v1/persons/{id}?purpose=accompaniment"));
            assert_eq!(r.status, 200, "file {id} created before the kill");
        }
        drop(s);
        let o = i.run(&["audit", "verify"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}
