use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;

use super::*;

const ALLOW: &str = "@id(\"reports\")\n\
                     permit (principal, action in Action::\"read\", resource)\n\
                     when { resource.path == \"/v1/reports\" };\n";
const DENY: &str = "@id(\"reports\")\n\
                    forbid (principal, action in Action::\"read\", resource)\n\
                    when { resource.path == \"/v1/reports\" };\n";

fn schema() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/schema.cedarschema");
    std::fs::read_to_string(path).unwrap()
}

/// A folder holding the schema and `a.cedar`, and a reloader over it that
/// has loaded it once.
fn reloader(policy: &str) -> (tempfile::TempDir, PolicyReloader) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.cedarschema"), schema()).unwrap();
    std::fs::write(dir.path().join("a.cedar"), policy).unwrap();
    let reloader = PolicyReloader::new(dir.path().to_path_buf(), Arc::new(PolicyStore::empty()));
    assert!(matches!(
        reloader.reload(Trigger::Start),
        Outcome::Loaded(_)
    ));
    (dir, reloader)
}

/// Writes `text` to `name` the way careful editors save: a temporary file
/// renamed over the old one.
fn save_by_rename(dir: &Path, name: &str, text: &str) {
    let temp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(temp, dir.join(name)).unwrap();
}

#[test]
fn an_unchanged_folder_is_not_read_again() {
    let (_dir, reloader) = reloader(ALLOW);

    assert_eq!(
        reloader.reload_if_changed(Trigger::Poll),
        Outcome::Unchanged
    );
    assert_eq!(reloader.status().reloads_ok(), 0);
}

#[test]
fn editor_droppings_leave_the_fingerprint_alone() {
    let (dir, reloader) = reloader(ALLOW);
    let before = Fingerprint::of(dir.path());

    for name in ["a.cedar~", ".a.cedar.swp", "4913", "#a.cedar#"] {
        std::fs::write(dir.path().join(name), "permit (").unwrap();
    }
    symlink("root@host.4242:1700000000", dir.path().join(".#a.cedar")).unwrap();

    assert_eq!(Fingerprint::of(dir.path()), before);
    assert_eq!(
        reloader.reload_if_changed(Trigger::Poll),
        Outcome::Unchanged
    );
    assert_eq!(reloader.status().reloads_failed(), 0);
}

#[test]
fn a_save_by_rename_is_loaded_and_counted() {
    let (dir, reloader) = reloader(ALLOW);
    let first = reloader.status().report().live.unwrap().version;

    save_by_rename(dir.path(), "a.cedar", DENY);
    let outcome = reloader.reload_if_changed(Trigger::Event);

    let report = reloader.status().report();
    let live = report.live.unwrap();
    assert_eq!(outcome, Outcome::Loaded(live.version.clone()));
    assert_ne!(live.version, first);
    assert_eq!(live.policies, 1);
    assert_eq!(report.reloads_ok, 1);
    assert_eq!(report.last_attempt.unwrap().trigger, "event");
}

#[test]
fn a_configmap_swap_of_its_data_link_changes_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (version, policy) in [("..2026_12_04_01", ALLOW), ("..2026_12_04_02", DENY)] {
        std::fs::create_dir(root.join(version)).unwrap();
        std::fs::write(root.join(version).join("a.cedar"), policy).unwrap();
        std::fs::write(root.join(version).join("schema.cedarschema"), schema()).unwrap();
    }
    symlink("..2026_12_04_01", root.join("..data")).unwrap();
    symlink("..data/a.cedar", root.join("a.cedar")).unwrap();
    symlink("..data/schema.cedarschema", root.join("schema.cedarschema")).unwrap();
    let reloader = PolicyReloader::new(root.to_path_buf(), Arc::new(PolicyStore::empty()));
    let Outcome::Loaded(first) = reloader.reload(Trigger::Start) else {
        panic!("the first version loads");
    };

    symlink("..2026_12_04_02", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    let outcome = reloader.reload_if_changed(Trigger::Poll);

    let Outcome::Loaded(second) = outcome else {
        panic!("the swap is seen, got {outcome:?}");
    };
    assert_ne!(first, second);
}

#[test]
fn a_broken_save_is_refused_and_shown_until_a_good_load_clears_it() {
    let (dir, reloader) = reloader(ALLOW);
    let live = reloader.status().report().live.unwrap();

    // The comma after `action` is missing: the parser stops at `resource`,
    // line 2, column 27.
    save_by_rename(
        dir.path(),
        "a.cedar",
        "// broken\nforbid (principal, action resource);\n",
    );
    assert_eq!(reloader.reload_if_changed(Trigger::Event), Outcome::Refused);

    let report = reloader.status().report();
    let error = report.last_error.unwrap();
    assert_eq!(report.live.unwrap(), live);
    assert_eq!(report.last_attempt.unwrap().result, "failed");
    assert_eq!(report.reloads_failed, 1);
    assert_eq!(
        (error.file.as_str(), error.line, error.column),
        ("a.cedar", Some(2), Some(27))
    );
    assert_eq!(
        reloader.store.snapshot().unwrap().version(),
        live.version.as_str()
    );

    // Refused once, not again at every check while nothing changes.
    assert_eq!(
        reloader.reload_if_changed(Trigger::Poll),
        Outcome::Unchanged
    );

    save_by_rename(dir.path(), "a.cedar", DENY);
    assert!(matches!(
        reloader.reload_if_changed(Trigger::Event),
        Outcome::Loaded(_)
    ));
    assert_eq!(reloader.status().report().last_error, None);
}

#[test]
fn a_file_that_cannot_be_read_is_retried_at_the_next_check() {
    let (dir, reloader) = reloader(ALLOW);
    symlink("gone.txt", dir.path().join("b.cedar")).unwrap();

    assert_eq!(reloader.reload_if_changed(Trigger::Event), Outcome::Refused);
    assert_eq!(reloader.reload_if_changed(Trigger::Poll), Outcome::Refused);

    std::fs::write(
        dir.path().join("gone.txt"),
        DENY.replace("reports\")", "b\")"),
    )
    .unwrap();
    assert!(matches!(
        reloader.reload_if_changed(Trigger::Poll),
        Outcome::Loaded(_)
    ));
    assert_eq!(reloader.status().reloads_failed(), 2);
}

#[test]
fn deleting_every_policy_file_is_refused() {
    let (dir, reloader) = reloader(ALLOW);

    std::fs::remove_file(dir.path().join("a.cedar")).unwrap();

    assert_eq!(reloader.reload_if_changed(Trigger::Event), Outcome::Refused);
    let error = reloader.status().report().last_error.unwrap();
    assert_eq!(error.message, "no `.cedar` policy file");
    assert!(reloader.store.snapshot().is_some());
}
