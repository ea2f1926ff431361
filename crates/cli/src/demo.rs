//! `rempart serve --demo`: a fresh installation in a temporary directory, synthetic agencies
//! and files, a token per role, example calls printed, then the server.

use crate::commands::{create_token, import, init, open_vault, synth};
use crate::settings::{AlertSettings, Settings, StoreSettings};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// The training partner of the demonstration.
const PARTNER: &str = "AFPA-75";

struct TempInstall(PathBuf);

impl Drop for TempInstall {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn serve_demo(base: &Settings, files: usize) -> Result<()> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let root = std::env::temp_dir().join(format!("rempart-demo-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let install = TempInstall(root.clone());
    let mut store = base.clone();
    store.store = StoreSettings {
        data: Some(root.join("data")),
        database_url: None,
        keys_database_url: None,
        redis_url: None,
        redis_prefix: base.store.redis_prefix.clone(),
        key_file: Some(root.join("master.key")),
    };
    // The demonstration's checkpoints go to its own witness file only, never to a witness
    // service or syslog that a configuration file names for a real installation.
    store.witness.file = Some(root.join("audit.witness"));
    store.witness.url = None;
    store.witness.syslog = Some(PathBuf::from("off"));
    // Every hour is office hours for it, so that its examples answer as printed at any time.
    store.guard.office_hours = [0, 24];
    // Its alerts stay in it too (the database, `GET /v1/alerts`).
    store.alerts = AlertSettings {
        webhook_url: None,
        webhook_secret: None,
        syslog: Some(PathBuf::from("off")),
        smtp_url: None,
        email_from: None,
        email_to: Vec::new(),
    };
    // Its notices go to a local mailbox: nothing leaves the machine.
    store.notices.mailbox = Some(root.join("mailbox"));
    store.notices.smtp_url = None;
    store.notices.sms_url = None;
    store.notices.email_from = Some("ne-pas-repondre@demo.invalid".into());
    store.notices.organisation = "Mission locale (démonstration)".into();
    store.notices.contact = "dpo@demo.invalid".into();
    init(&store, false)?;
    let vault = open_vault(&store)?;
    let csv = root.join("synthetic.csv");
    synth(files.max(10), 3, 2026, &csv)?;
    let n = import(&vault, None, &csv)?;
    std::fs::remove_file(&csv).ok();

    let agencies = rempart_synth::agency_codes(3);
    let c0 = rempart_synth::counsellors(0)[0].clone();
    let c1 = rempart_synth::counsellors(1)[0].clone();
    // A second counsellor of the first agency, whose token the demonstration treats as stolen.
    let stolen = rempart_synth::counsellors(0)[1].clone();
    let roles = [
        (c0.as_str(), "counsellor", agencies[0].as_str()),
        (c1.as_str(), "counsellor", agencies[1].as_str()),
        ("formation-plus", "partner", PARTNER),
        ("rssi", "operator", agencies[0].as_str()),
        ("dpo", "dpo", agencies[0].as_str()),
        ("case-app", "service", agencies[0].as_str()),
        (stolen.as_str(), "counsellor", agencies[0].as_str()),
    ];
    let mut tokens = Vec::new();
    for (name, role, agency) in roles {
        tokens.push((
            name,
            role,
            agency,
            create_token(&vault, name, role, agency, "1d")?,
        ));
    }
    // One file id and one synthetic email of the first agency, for the example calls.
    // The demo acts through the tokens it printed, as a client would.
    let first = vault.authenticate(&tokens[0].3)?;
    let caseload = vault.list(&first, rempart_domain::Purpose::Accompaniment, None, 5)?;
    let id = caseload
        .items
        .first()
        .map(|h| h.id.clone())
        .unwrap_or_else(|| "ID".into());
    // The first counsellor enrols the files of their caseload with the training partner.
    for hit in &caseload.items {
        vault.enrol(
            &first,
            &hit.id,
            &rempart_domain::Agency::parse(PARTNER)?,
            true,
        )?;
    }
    // A file of the agency outside that caseload, for the break-glass example.
    let dpo = vault.authenticate(&tokens[4].3)?;
    let agency_files: Vec<String> = vault
        .list(&dpo, rempart_domain::Purpose::DataSubjectRequest, None, 200)
        .map(|page| page.items.into_iter().map(|h| h.id).collect())
        .unwrap_or_default();
    let other = agency_files
        .iter()
        .find(|h| !caseload.items.iter().any(|c| &c.id == *h))
        .cloned()
        .unwrap_or_else(|| "ID".into());
    // Ten files of the agency outside the stolen counsellor's caseload, for the containment
    // example.
    let stolen_p = vault.authenticate(&tokens[6].3)?;
    let theirs: Vec<String> = vault
        .list(&stolen_p, rempart_domain::Purpose::Accompaniment, None, 200)
        .map(|page| page.items.into_iter().map(|h| h.id).collect())
        .unwrap_or_default();
    let outside: Vec<String> = agency_files
        .iter()
        .filter(|id| !theirs.contains(id))
        .take(10)
        .cloned()
        .collect();
    let sample = rempart_synth::generate(files.max(10), 3, 2026)
        .into_iter()
        .find(|f| f.agency == agencies[0]);

    // What the demonstration itself did with the stolen counsellor's token above (finding
    // their caseload) comes before the theft: the incident starts the next second.
    let since = chrono::Utc::now().timestamp() + 1;
    while chrono::Utc::now().timestamp() < since {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let witness = crate::commands::witness(&store)?;
    let app = crate::Application::with_vault(&store, vault, witness)?;
    let (scheme, addr) = (app.scheme(), app.local_addr()?);
    {
        let base = format!("{scheme}://{addr}");
        let t0 = &tokens[0].3;
        println!(
            "\nRempart demonstration: {n} synthetic files in agencies {}.",
            agencies.join(", ")
        );
        println!(
            "Data in {} (deleted on exit). Nothing here is a real person.\n",
            root.display()
        );
        println!("Tokens (valid one day):");
        for (name, role, agency, tok) in &tokens {
            println!("  {role:<10} {name:<16} {agency:<10} {tok}");
        }
        println!("\nTry:");
        println!("  export T={t0}");
        println!("  curl -s -H \"Authorization: Bearer $T\" '{base}/v1/persons?purpose=accompaniment&limit=3'");
        println!("  curl -s -H \"Authorization: Bearer $T\" '{base}/v1/persons/{id}?purpose=accompaniment&categories=identity,contact'");
        if let Some(s) = &sample {
            println!(
                "  curl -s -H \"Authorization: Bearer $T\" -d '{{\"purpose\":\"accompaniment\",\"email\":\"{}\"}}' {base}/v1/persons/search",
                s.email
            );
        }
        println!(
            "  curl -s -H \"Authorization: Bearer {}\" '{base}/v1/persons/{id}?purpose=accompaniment'   # another agency: 404",
            tokens[1].3
        );
        println!(
            "  curl -s -H \"Authorization: Bearer {}\" '{base}/v1/persons/{id}?purpose=partner_service'   # the partner: identity, contact, education",
            tokens[2].3
        );
        println!(
            "  curl -s -H \"Authorization: Bearer $T\" '{base}/v1/persons/{other}?purpose=accompaniment'   # not in the caseload: identity and contact"
        );
        println!(
            "  curl -s -H \"Authorization: Bearer $T\" -H 'X-Break-Glass: the young person is at the desk, their counsellor is away' '{base}/v1/persons/{other}?purpose=accompaniment'"
        );
        println!(
            "  curl -s -H \"Authorization: Bearer {}\" '{base}/v1/audit/break-glass'   # the DPO reviews break-glass reads",
            tokens[4].3
        );
        println!(
            "  curl -s -H \"Authorization: Bearer $T\" -H 'Content-Type: application/json' -d '{{\"agency\":\"{}\",\"identity\":{{\"last_name\":\"Martin\",\"first_names\":\"Léa\",\"birth_date\":\"2006-04-17\",\"sex\":\"F\"}},\"nir\":\"2060475113042 33\"}}' {base}/v1/persons",
            agencies[0]
        );
        println!("  curl -s {base}/openapi.json | head -c 300\n");
        println!(
            "Containment (docs/containment.md): the token of {} is stolen, and reads files of the agency outside their caseload.",
            tokens[6].0
        );
        println!("  export S={}", tokens[6].3);
        println!(
            "  for id in {}; do curl -s -o /dev/null -w '%{{http_code}} ' -H \"Authorization: Bearer $S\" \"{base}/v1/persons/$id?purpose=accompaniment\"; done; echo   # 200 five times (a new token's budget outside its caseload), 429 twice, then 403: suspended",
            outside.join(" ")
        );
        println!(
            "  curl -s -H \"Authorization: Bearer {}\" '{base}/v1/alerts'   # the operator sees the alert: who, why, the five people exposed\n",
            tokens[3].3
        );
        // The console commands of the breach act on this installation through a configuration
        // file of its own.
        let config = root.join("rempart.toml");
        let quote = |s: String| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let quoted = |p: &std::path::Path| quote(p.display().to_string());
        std::fs::write(
            &config,
            format!(
                "[store]\ndata = {}\nkey_file = {}\n\n[witness]\nfile = {}\nsyslog = \"off\"\n\n[notices]\norganisation = \"Mission locale (démonstration)\"\ncontact = \"dpo@demo.invalid\"\nverify_url = {}\nmailbox = {}\nemail_from = \"ne-pas-repondre@demo.invalid\"\n",
                quoted(&root.join("data")),
                quoted(&root.join("master.key")),
                quoted(&root.join("audit.witness")),
                quote(format!("{base}/verify")),
                quoted(&root.join("mailbox")),
            ),
        )
        .with_context(|| format!("writing {}", config.display()))?;
        println!(
            "Breach response (docs/incidents.md): the stolen account is an incident. In another terminal:"
        );
        println!("  export C={}", config.display());
        println!(
            "  INC=$(rempart --config $C incident open --principal {} --since {since} --summary 'A counsellor token used by someone else.')",
            tokens[6].0
        );
        println!("  rempart --config $C incident impact $INC   # exactly the five people read, and their categories");
        println!("  rempart --config $C incident draft $INC   # the notification to the CNIL, on its 72-hour clock");
        println!("  rempart --config $C incident notices prepare $INC");
        println!(
            "  echo {} | rempart --config $C incident notices approve $INC --dpo-token-file -   # the DPO approves",
            tokens[4].3
        );
        println!("  rempart --config $C incident notices deliver $INC");
        println!(
            "  ls {}   # one notice per person (and per legal representative of a minor), each with a verification code",
            root.join("mailbox").join("new").display()
        );
        println!(
            "  curl -s -H 'Content-Type: application/json' -d '{{\"code\":\"CODE\"}}' {base}/v1/verify   # CODE from a notice: genuine, sent today by {}\n",
            agencies[0]
        );
        println!("Listening on {base} — Ctrl-C to stop.");
    }
    app.run()?;
    drop(install);
    Ok(())
}
