//! Export of the audit log for a SIEM or a long-term archive: JSON lines, or Parquet with one
//! column per field of the entry plus the entry as JSON, its canonical bytes (hex) and its leaf
//! hash, so that an archive can still be checked against a signed checkpoint.

use crate::core::Vault;
use crate::error::VaultError;
use crate::principal::Principal;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rempart_audit::{Action, AuditEntry, Outcome};
use rempart_policy::LogAct;
use rempart_store::StoreError;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

/// The format of `rempart audit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line: `{"seq", "leaf", "entry", "canonical"}` (the entry as a JSON
    /// object, and the bytes its leaf hashes, hex).
    Jsonl,
    /// Apache Parquet, Snappy-compressed, one row per entry.
    Parquet,
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "parquet" => Ok(ExportFormat::Parquet),
            other => Err(format!(
                "unknown export format {other:?}; use jsonl or parquet"
            )),
        }
    }
}

/// Text columns taken from the entry's fields of the same name (arrays as JSON text).
const TEXT_FIELDS: [(&str, bool); 12] = [
    ("principal", true),
    ("token_id", true),
    ("agency", true),
    ("role", true),
    ("action", true),
    ("persons", true),
    ("categories", true),
    ("purpose", false),
    ("client", false),
    ("request_id", false),
    ("outcome", true),
    ("detail", false),
];

/// The Parquet schema of an exported entry.
pub fn parquet_schema() -> String {
    let mut s = String::from(
        "message rempart_audit_entry {\n  REQUIRED INT64 seq;\n  REQUIRED INT64 time;\n  REQUIRED BYTE_ARRAY leaf (UTF8);\n",
    );
    for (name, required) in TEXT_FIELDS {
        let rep = if required { "REQUIRED" } else { "OPTIONAL" };
        s.push_str(&format!("  {rep} BYTE_ARRAY {name} (UTF8);\n"));
    }
    s.push_str("  REQUIRED BYTE_ARRAY entry (UTF8);\n  REQUIRED BYTE_ARRAY canonical (UTF8);\n}\n");
    s
}

/// Rows in one Parquet row group.
const ROW_GROUP: usize = 65_536;

/// Buffered columns of one row group.
struct Columns {
    seq: Vec<i64>,
    time: Vec<i64>,
    leaf: Vec<ByteArray>,
    text: Vec<Vec<Option<ByteArray>>>,
    entry: Vec<ByteArray>,
    canonical: Vec<ByteArray>,
}

impl Columns {
    fn new() -> Self {
        Columns {
            seq: Vec::new(),
            time: Vec::new(),
            leaf: Vec::new(),
            text: vec![Vec::new(); TEXT_FIELDS.len()],
            entry: Vec::new(),
            canonical: Vec::new(),
        }
    }
}

/// Writes entries as Parquet, a row group at a time.
pub(crate) struct ParquetSink<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    cols: Columns,
}

fn pq(e: parquet::errors::ParquetError) -> VaultError {
    VaultError::Output(std::io::Error::other(e.to_string()))
}

impl<W: Write + Send> ParquetSink<W> {
    pub(crate) fn new(out: W) -> Result<Self, VaultError> {
        let schema =
            Arc::new(parquet::schema::parser::parse_message_type(&parquet_schema()).map_err(pq)?);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("rempart audit export".into())
            .build();
        Ok(ParquetSink {
            writer: SerializedFileWriter::new(out, schema, Arc::new(props)).map_err(pq)?,
            cols: Columns::new(),
        })
    }

    /// Adds an entry: its number, leaf (hex) and canonical bytes.
    pub(crate) fn push(
        &mut self,
        seq: u64,
        leaf: &str,
        canonical: &[u8],
    ) -> Result<(), VaultError> {
        let v = serde_json::to_value(
            rempart_audit::AuditEntry::parse(canonical)
                .map_err(|_| rempart_store::StoreError::Corrupt("audit entry"))?,
        )
        .map_err(|_| rempart_store::StoreError::Corrupt("audit entry"))?;
        let c = &mut self.cols;
        c.seq.push(seq as i64);
        c.time.push(v["time"].as_i64().unwrap_or_default());
        c.leaf.push(ByteArray::from(leaf));
        for (i, (name, _)) in TEXT_FIELDS.iter().enumerate() {
            let text = match &v[*name] {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(ByteArray::from(s.as_str())),
                other => Some(ByteArray::from(other.to_string().as_str())),
            };
            c.text[i].push(text);
        }
        c.entry.push(ByteArray::from(v.to_string().as_str()));
        c.canonical
            .push(ByteArray::from(hex::encode(canonical).as_str()));
        if c.seq.len() >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), VaultError> {
        if self.cols.seq.is_empty() {
            return Ok(());
        }
        let cols = std::mem::replace(&mut self.cols, Columns::new());
        let mut rg = self.writer.next_row_group().map_err(pq)?;
        let mut index = 0usize;
        while let Some(mut col) = rg.next_column().map_err(pq)? {
            match index {
                0 => col.typed::<Int64Type>().write_batch(&cols.seq, None, None),
                1 => col.typed::<Int64Type>().write_batch(&cols.time, None, None),
                2 => col
                    .typed::<ByteArrayType>()
                    .write_batch(&cols.leaf, None, None),
                i if i < 3 + TEXT_FIELDS.len() => {
                    let values = &cols.text[i - 3];
                    if TEXT_FIELDS[i - 3].1 {
                        let present: Vec<ByteArray> = values.iter().flatten().cloned().collect();
                        col.typed::<ByteArrayType>()
                            .write_batch(&present, None, None)
                    } else {
                        let defs: Vec<i16> =
                            values.iter().map(|v| i16::from(v.is_some())).collect();
                        let present: Vec<ByteArray> = values.iter().flatten().cloned().collect();
                        col.typed::<ByteArrayType>()
                            .write_batch(&present, Some(&defs), None)
                    }
                }
                i if i == 3 + TEXT_FIELDS.len() => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&cols.entry, None, None)
                }
                _ => col
                    .typed::<ByteArrayType>()
                    .write_batch(&cols.canonical, None, None),
            }
            .map_err(pq)?;
            col.close().map_err(pq)?;
            index += 1;
        }
        rg.close().map_err(pq)?;
        Ok(())
    }

    /// Writes the last row group and the footer.
    pub(crate) fn finish(mut self) -> Result<(), VaultError> {
        self.flush()?;
        self.writer.close().map_err(pq)?;
        Ok(())
    }
}

/// Where exported entries go.
pub(crate) enum Sink<W: Write + Send> {
    Jsonl(W),
    Parquet(Box<ParquetSink<W>>),
}

impl<W: Write + Send> Sink<W> {
    pub(crate) fn new(format: ExportFormat, out: W) -> Result<Self, VaultError> {
        Ok(match format {
            ExportFormat::Jsonl => Sink::Jsonl(out),
            ExportFormat::Parquet => Sink::Parquet(Box::new(ParquetSink::new(out)?)),
        })
    }

    /// Adds an entry: its number, leaf (hex) and canonical bytes.
    pub(crate) fn push(
        &mut self,
        seq: u64,
        leaf: &str,
        canonical: &[u8],
    ) -> Result<(), VaultError> {
        match self {
            Sink::Parquet(p) => p.push(seq, leaf, canonical),
            Sink::Jsonl(out) => {
                let e = rempart_audit::AuditEntry::parse(canonical)
                    .map_err(|_| rempart_store::StoreError::Corrupt("audit entry"))?;
                let line = serde_json::json!({
                    "seq": seq,
                    "leaf": leaf,
                    "entry": e,
                    "canonical": hex::encode(canonical),
                });
                writeln!(out, "{line}").map_err(VaultError::Output)
            }
        }
    }

    /// Ends the export (the Parquet footer).
    pub(crate) fn finish(self) -> Result<(), VaultError> {
        match self {
            Sink::Parquet(p) => p.finish(),
            Sink::Jsonl(mut out) => out.flush().map_err(VaultError::Output),
        }
    }
}

impl Vault {
    /// Every entry from `since` (Unix seconds) on, for a SIEM or an archive; returns how many
    /// were written. Only operators and the DPO may export; the export is itself recorded
    /// (before anything is written).
    pub fn export_audit<W: std::io::Write + Send>(
        &self,
        p: &Principal,
        since: i64,
        format: crate::ExportFormat,
        out: W,
    ) -> Result<u64, VaultError> {
        self.audit_reader(p, LogAct::Export, Action::AuditExport)?;
        let mut entry = self.entry(
            p,
            Action::AuditExport,
            vec![],
            vec![],
            None,
            Outcome::Allowed,
        );
        entry.detail = Some(format!("format={format:?} since={since}").to_lowercase());
        self.store.append_audit(&[entry])?;
        let mut sink = Sink::new(format, out)?;
        let mut n = 0u64;
        let mut failed = None;
        self.store.audit_visit(0, &mut |seq, bytes, leaf| {
            // Only the time is needed to filter.
            let time = match AuditEntry::time_of(bytes) {
                Ok(t) => t,
                Err(_) => {
                    failed = Some(StoreError::Corrupt("audit entry").into());
                    return false;
                }
            };
            if time < since {
                return true;
            }
            if let Err(e) = sink.push(seq, &hex::encode(leaf), bytes) {
                failed = Some(e);
                return false;
            }
            n += 1;
            true
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        sink.finish()?;
        Ok(n)
    }
}
