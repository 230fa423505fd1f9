//! Role env files (§11): only the secret vars, `KEY=value\n`, Kamal's escaping; empty → "\n".

use super::ruby::escape_env_file_value;

pub fn encode(secrets: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in secrets {
        s.push_str(k);
        s.push('=');
        s.push_str(&escape_env_file_value(v));
        s.push('\n');
    }
    if s.is_empty() {
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn trace_env_file() {
        let s = super::encode(&[("SECRET_KEY_BASE".into(), "s3cr3t-key-base-0123456789".into()), ("DB_PASSWORD".into(), "db-pass-from-command".into())]);
        assert_eq!(s, "SECRET_KEY_BASE=s3cr3t-key-base-0123456789\nDB_PASSWORD=db-pass-from-command\n");
        assert_eq!(super::encode(&[]), "\n");
        assert_eq!(super::encode(&[("A".into(), "x\"y\nz".into())]), "A=x\"y\\nz\n");
    }
}
