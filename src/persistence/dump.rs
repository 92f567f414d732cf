//! DUMP payloads (Redis: cluster.c createDumpPayload / verifyDumpPayload):
//! `<type byte><value in RDB encoding><RDB version u16 LE><CRC64 LE of all
//! the bytes before it>`. Pure: the commands live in `cmd::dump`.

use super::rdb::{self, crc64::crc64, RdbError, Reader, SaveOptions, RDB_VERSION};
use crate::keyspace::value::Value;

/// Footer size: 2 bytes of version and 8 of CRC.
const FOOTER: usize = 10;

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Too short, from a newer RDB version, or the CRC does not match
    /// ("DUMP payload version or checksum are wrong").
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// The value inside is malformed or of an unsupported type
    /// ("Bad data format").
    #[error("bad data format: {0}")]
    BadData(#[from] RdbError),
}

/// Serializes a value as redis-server 7.0's DUMP would.
pub fn create(v: &Value, opts: &SaveOptions) -> Vec<u8> {
    let mut out = Vec::new();
    rdb::write_object(&mut out, v, opts);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks the footer (Redis: verifyDumpPayload): versions up to ours are
/// accepted, and the CRC must match.
pub fn verify(p: &[u8]) -> Result<(), PayloadError> {
    if p.len() < FOOTER {
        return Err(PayloadError::VersionOrChecksum);
    }
    let footer = &p[p.len() - FOOTER..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let crc = crc64(0, &p[..p.len() - 8]);
    if crc.to_le_bytes() != footer[2..] {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(())
}

/// Verifies a payload and decodes the value in it. Like Redis, the value
/// is read from the whole payload: bytes left before the footer are
/// ignored, and a value that runs into the footer is read from it (Redis
/// accepts such payloads, so picket does too).
pub fn parse(p: &[u8]) -> Result<Value, PayloadError> {
    verify(p)?;
    Ok(rdb::read_object(&mut Reader::new(p))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::value::Sds;

    /// A payload around `body` with the given version and a correct CRC.
    fn payload(body: &[u8], version: u16) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    #[test]
    fn redis_payload_for_a_list_is_accepted_byte_for_byte() {
        // DUMP l after RPUSH l a 1, from redis-server 7.0.15.
        let p = [
            0x12, 0x01, 0x02, 0x0c, 0x0c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x81, 0x61, 0x02, 0x01,
            0x01, 0xff, 0x0a, 0x00, 0x94, 0x96, 0x2b, 0x23, 0xac, 0x17, 0xaa, 0x85,
        ];
        let v = parse(&p).unwrap();
        assert_eq!(create(&v, &SaveOptions::default()), p);
    }

    #[test]
    fn footer_problems_are_version_or_checksum_errors() {
        let good = payload(&[0, 1, b'x'], 10);
        assert!(parse(&good).is_ok());
        assert!(parse(&payload(&[0, 1, b'x'], 9)).is_ok());
        assert_eq!(
            parse(&payload(&[0, 1, b'x'], 11)).err(),
            Some(PayloadError::VersionOrChecksum)
        );
        let mut flipped = good.clone();
        flipped[2] = b'y';
        assert_eq!(parse(&flipped).err(), Some(PayloadError::VersionOrChecksum));
        assert_eq!(
            parse(&good[..9]).err(),
            Some(PayloadError::VersionOrChecksum)
        );
    }

    #[test]
    fn a_bad_body_with_a_good_footer_is_bad_data() {
        assert!(matches!(
            parse(&payload(&[0, 30, b'x'], 10)),
            Err(PayloadError::BadData(RdbError::Truncated { .. }))
        ));
        // A string running into the footer is read from it, as Redis does.
        assert!(matches!(
            parse(&payload(&[0, 5, b'x'], 10)),
            Ok(Value::Str(_))
        ));
        assert!(matches!(
            parse(&payload(&[21], 10)),
            Err(PayloadError::BadData(RdbError::UnsupportedType {
                ty: 21,
                ..
            }))
        ));
    }

    #[test]
    fn strings_round_trip() {
        let v = Value::Str(Sds::from_slice(b"hello"));
        let p = create(&v, &SaveOptions::default());
        assert_eq!(&p[..7], &[0, 5, b'h', b'e', b'l', b'l', b'o']);
        assert!(matches!(parse(&p).unwrap(), Value::Str(s) if s.as_slice() == b"hello"));
    }
}
