use std::path::Path;

use super::*;

const PERMIT: &str = "permit (principal, action in Action::\"read\", resource)\n\
                      when { resource.path == \"/v1/reports\" };\n";

/// A folder with the shipped schema and `files` (name, text), sub-folders
/// created as needed.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/schema.cedarschema");
    std::fs::copy(schema, dir.path().join(SCHEMA_FILE)).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn problems(error: LoadError) -> Vec<Problem> {
    match error {
        LoadError::Invalid(problems) => problems,
        other => panic!("expected problems, got {other}"),
    }
}

#[test]
fn a_duplicate_id_names_both_files_and_lines() {
    let first = format!("@id(\"shared\")\n{PERMIT}");
    let second = format!("// the same id again\n@id(\"shared\")\n{PERMIT}");
    let dir = folder(&[("a.cedar", &first), ("b.cedar", &second)]);

    let found = problems(load_dir(dir.path()).unwrap_err());

    assert_eq!(
        found,
        vec![Problem {
            file: "b.cedar".into(),
            line: Some(2),
            column: None,
            message: "policy id `shared` is also declared in `a.cedar:1`".into(),
        }]
    );
    assert_eq!(
        found[0].to_string(),
        "b.cedar:2: policy id `shared` is also declared in `a.cedar:1`"
    );
}

#[test]
fn policies_in_sub_folders_count_and_are_named_by_relative_path() {
    let dir = folder(&[
        ("top.cedar", PERMIT),
        ("team/a.cedar", &format!("{PERMIT}{PERMIT}")),
        ("team/deep/b.cedar", PERMIT),
    ]);

    let set = load_dir(dir.path()).unwrap();

    assert_eq!(set.len(), 4);
    assert_eq!(set.meta("team/a.cedar#2").unwrap().file, "team/a.cedar");
    assert_eq!(set.meta("team/a.cedar#2").unwrap().line, Some(3));
    assert_eq!(
        set.meta("team/deep/b.cedar#1").unwrap().file,
        "team/deep/b.cedar"
    );
}

#[test]
fn dot_named_folders_and_editor_droppings_are_never_read() {
    let broken = "permit (principal, action resource);";
    let dir = folder(&[
        ("a.cedar", PERMIT),
        ("a.cedar~", broken),
        (".a.cedar.swp", broken),
        ("4913", broken),
        ("#a.cedar#", broken),
        (".git/x.cedar", broken),
        ("..2026_12_04_01/x.cedar", broken),
    ]);
    std::os::unix::fs::symlink("root@host.4242:1700000000", dir.path().join(".#a.cedar")).unwrap();

    let set = load_dir(dir.path()).unwrap();

    assert_eq!(set.len(), 1);
    assert!(set.meta("a.cedar#1").is_some());
}

#[test]
fn a_configmap_volume_reads_through_its_links() {
    let dir = folder(&[("..2026_12_04_01/a.cedar", PERMIT)]);
    let root = dir.path();
    std::os::unix::fs::symlink("..2026_12_04_01", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/a.cedar", root.join("a.cedar")).unwrap();

    let files = policy_files(root).unwrap();
    let set = load_dir(root).unwrap();

    assert_eq!(
        files,
        vec![PolicyFile {
            name: "a.cedar".into(),
            path: root.join("a.cedar"),
        }]
    );
    assert_eq!(set.meta("a.cedar#1").unwrap().file, "a.cedar");
}

#[test]
fn a_dangling_policy_link_is_a_read_error_naming_it() {
    let dir = folder(&[("a.cedar", PERMIT)]);
    std::os::unix::fs::symlink("gone.cedar", dir.path().join("b.cedar")).unwrap();

    let error = load_dir(dir.path()).unwrap_err();

    match error {
        LoadError::Read { path, .. } => assert_eq!(path, dir.path().join("b.cedar")),
        other => panic!("expected a read error, got {other}"),
    }
}

#[test]
fn a_link_cycle_between_folders_is_walked_once() {
    let dir = folder(&[("team/a.cedar", PERMIT)]);
    std::os::unix::fs::symlink("..", dir.path().join("team/up")).unwrap();

    let names: Vec<String> = policy_files(dir.path())
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();

    assert_eq!(names, vec!["team/a.cedar".to_string()]);
}

#[test]
fn a_policy_cannot_borrow_its_end_from_the_next_file() {
    let dir = folder(&[
        ("a.cedar", "permit (principal, action, resource)\n"),
        ("b.cedar", ";\n"),
    ]);

    let found = problems(load_dir(dir.path()).unwrap_err());

    let files: Vec<&str> = found.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(files, vec!["a.cedar", "b.cedar"]);
}

#[test]
fn a_last_line_comment_without_newline_stays_in_its_file() {
    let dir = folder(&[
        ("a.cedar", &format!("{PERMIT}// no newline after this")),
        ("b.cedar", PERMIT),
    ]);

    let set = load_dir(dir.path()).unwrap();

    assert_eq!(set.len(), 2);
    assert_eq!(set.meta("b.cedar#1").unwrap().line, Some(1));
}

#[test]
fn a_large_set_validated_in_parts_still_reports_every_invalid_policy() {
    let mut files: Vec<(String, String)> = (0..25)
        .map(|n| {
            let text = (0..100)
                .map(|i| {
                    format!(
                        "permit (principal, action in Action::\"read\", resource)\n\
                         when {{ resource.path == \"/v1/{n}/{i}\" }};\n"
                    )
                })
                .collect();
            (format!("part{n:02}.cedar"), text)
        })
        .collect();
    files.push((
        "bad.cedar".into(),
        format!("{PERMIT}{}", PERMIT.replace("path", "nope")),
    ));
    let named: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let dir = folder(&named);

    let found = problems(load_dir(dir.path()).unwrap_err());

    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].file, "bad.cedar");
    assert_eq!(found[0].line, Some(4));
    assert!(found[0].message.contains("nope"), "{}", found[0].message);
}

#[test]
fn policy_files_whose_names_are_not_utf8_are_refused_not_merged() {
    use std::os::unix::ffi::OsStrExt;

    let dir = folder(&[("base.cedar", PERMIT)]);
    // Two names that differ only in bytes that are not UTF-8: read lossily
    // they would be one file, and one forbid would vanish.
    for byte in [0xfe_u8, 0xff] {
        let bytes = [b'z', byte, b'.', b'c', b'e', b'd', b'a', b'r'];
        let name = std::ffi::OsStr::from_bytes(&bytes);
        std::fs::write(
            dir.path().join(name),
            "forbid (principal, action, resource);\n",
        )
        .unwrap();
    }

    let found = problems(load_dir(dir.path()).unwrap_err());
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("not UTF-8"), "{}", found[0]);
}

#[test]
fn other_files_whose_names_are_not_utf8_are_ignored() {
    use std::os::unix::ffi::OsStrExt;

    let dir = folder(&[("base.cedar", PERMIT)]);
    let name = std::ffi::OsStr::from_bytes(b"notes\xff.txt");
    std::fs::write(dir.path().join(name), "scratch").unwrap();
    assert_eq!(load_dir(dir.path()).unwrap().len(), 1);
}

#[test]
fn a_schema_error_is_placed_where_it_is_in_its_own_file() {
    // The policy is on lines 3-4 of the second file; the unknown attribute
    // starts at column 10 of line 4. The files are parsed joined, so the
    // engine's own offset counts from the start of the first file.
    let broken = "// header\n\npermit(principal, action, resource)\n  when { context.nope == 1 };\n\n\n// trailing\n";
    let dir = folder(&[("a.cedar", PERMIT), ("b.cedar", broken)]);

    let found = problems(load_dir(dir.path()).unwrap_err());

    // One problem per action the policy applies to, each at the same place.
    assert!(!found.is_empty());
    for problem in &found {
        assert_eq!(problem.file, "b.cedar");
        assert_eq!(
            (problem.line, problem.column),
            (Some(4), Some(10)),
            "{problem}"
        );
    }
}
