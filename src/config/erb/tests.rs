use super::*;

fn r(src: &str, env: &[(&str, &str)]) -> Result<String, ConfigError> {
    let mut e: BTreeMap<String, String> = env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    e.insert("PATH".into(), "/usr/bin:/bin".into());
    let cwd = std::env::temp_dir();
    let mut ctx = ErbContext { env: &mut e, cwd: &cwd, dir: cwd.clone(), file: "deploy.yml".into() };
    render(src, &mut ctx)
}

#[test]
fn basics() {
    assert_eq!(r("a: <%= ENV[\"X\"] %>\n", &[("X", "1")]).unwrap(), "a: 1\n");
    assert_eq!(r("a: <%= ENV.fetch('Y', 'd') %>", &[]).unwrap(), "a: d");
    assert!(r("<%= ENV.fetch('Y') %>", &[]).unwrap_err().message.contains("key not found"));
    assert_eq!(r("<% if ENV['X'] == '1' -%>\nyes\n<% else -%>\nno\n<% end -%>\n", &[("X", "1")]).unwrap(), "yes\n");
    assert_eq!(r("<% h = 'a,b'.split(',') -%>\n<% h.each do |x| -%>\n- <%= x %>\n<% end -%>\n", &[]).unwrap(), "- a\n- b\n");
    assert_eq!(r("<%= 6 * 7 %>", &[]).unwrap(), "42");
    assert_eq!(r("<%= `echo hi`.strip %>", &[]).unwrap(), "hi");
    assert!(r("<%= %x(kdeck-no-such-command) %>", &[]).unwrap_err().message.contains("No such file"));
    assert_eq!(r("<%= `kdeck-no-such-command 2>/dev/null`.strip %>", &[]).unwrap(), "");
    let e = r("a\n<%= Gem::Specification.find_by_name('x') %>", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedErb);
    assert_eq!(e.line, Some(2));
    assert_eq!(r("<%# c %>x <%% y", &[]).unwrap(), "x <% y");
    assert!(r(&format!("<%= {}1{} %>", "(".repeat(5000), ")".repeat(5000)), &[]).is_err());
    assert!(r(&"<% if true %>".repeat(5000), &[]).is_err());
    assert!(r("<%= 'a' * 100000000000 %>", &[]).is_err());
    assert_eq!(r("  <%- if true -%>\nz\n<%- end -%>\n", &[]).unwrap(), "z\n");
}
