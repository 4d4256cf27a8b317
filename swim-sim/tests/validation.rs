//! Scenario files and `--set` arguments are checked before anything runs: every error names
//! the scenario, the variant, the field, and the file line or the `--set` argument it came
//! from.

use swim_sim::scenario::{BUILTINS, MAX_NODES, Scenario, Setting};

/// Three variants on one axis; `network.loss` on line 6, the crash's `at` on line 10, the
/// `lifeguard` variant's `suspicion_mult` on line 23.
const TEXT: &str = r#"name = "checked"
nodes = 10
duration = "120s"

[network]
loss = 0.01

[faults.crash]
kind = "crash"
at = "30s"
nodes = { random = 1 }

[[axes]]
name = "protocol"

[[axes.variants]]
name = "swim"
config.lifeguard = "off"

[[axes.variants]]
name = "lifeguard"
config.lifeguard = "on"
config.suspicion_mult = 4
"#;

fn with(text: &str, replace: &[(&str, &str)]) -> String {
    let mut t = text.to_string();
    for (from, to) in replace {
        assert!(t.contains(from), "`{from}` is in the text");
        t = t.replacen(from, to, 1);
    }
    t
}

fn error(text: &str, sets: &[&str]) -> String {
    let sets: Vec<Setting> = sets.iter().map(|s| Setting::parse(s).unwrap()).collect();
    Scenario::parse_source(text, "checked.toml", &sets).expect_err("the scenario is refused")
}

fn assert_names(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "`{p}` missing from: {e}");
    }
}

#[test]
fn the_valid_scenario_parses() {
    let s = Scenario::parse_source(TEXT, "checked.toml", &[]).unwrap();
    assert_eq!(s.variants.len(), 2);
}

#[test]
fn a_probability_out_of_range_names_the_line() {
    let e = error(&with(TEXT, &[("loss = 0.01", "loss = 5")]), &[]);
    assert_names(&e, &["checked.toml, line 6", "scenario `checked`", "variant `swim`", "field `network.loss`", "5"]);
}

#[test]
fn a_value_set_on_the_command_line_names_the_argument() {
    let e = error(TEXT, &["network.loss=1.5"]);
    assert_names(&e, &["--set network.loss=1.5", "variant `swim`", "field `network.loss`"]);
    assert!(!e.contains("line"), "a --set value has no line: {e}");
}

#[test]
fn a_type_error_in_a_variant_names_the_variant_field_and_line() {
    let e = error(&with(TEXT, &[("config.suspicion_mult = 4", "config.suspicion_mult = \"abc\"")]), &[]);
    assert_names(
        &e,
        &[
            "checked.toml, line 23",
            "variant `lifeguard`",
            "field `config.suspicion_mult`",
            "invalid type: string \"abc\"",
        ],
    );
}

#[test]
fn a_fault_after_the_end_of_the_run_is_refused() {
    let e = error(&with(TEXT, &[("at = \"30s\"", "at = \"300s\"")]), &[]);
    assert_names(&e, &["checked.toml, line 10", "variant `swim`", "field `faults.crash.at`", "300s", "120s", "line 3"]);
    // The run shortened on the command line: the fault's line, and the argument that ended
    // the run early.
    let e = error(TEXT, &["duration=\"20s\""]);
    assert_names(&e, &["checked.toml, line 10", "field `faults.crash.at`", "--set duration=\"20s\""]);
}

#[test]
fn repetitions_after_the_end_of_the_run_are_refused() {
    let e = error(&with(TEXT, &[("at = \"30s\"", "at = \"30s\"\nevery = \"30s\"\ncount = 4")]), &[]);
    assert_names(&e, &["checked.toml, line 12", "field `faults.crash.count`", "at most 3 fit"]);
    let e = error(&with(TEXT, &[("at = \"30s\"", "at = \"30s\"\ncount = 2")]), &[]);
    assert_names(&e, &["field `faults.crash.count`", "need `every`"]);
}

#[test]
fn node_counts_must_be_positive_and_bounded() {
    let e = error(&with(TEXT, &[("nodes = 10", "nodes = 0")]), &[]);
    assert_names(&e, &["checked.toml, line 2", "field `nodes`", "not 0"]);
    let e = error(TEXT, &[&format!("nodes={}", MAX_NODES + 1)]);
    assert_names(&e, &[&format!("--set nodes={}", MAX_NODES + 1), "field `nodes`"]);
    let e = error(TEXT, &["nodes=-3"]);
    assert_names(&e, &["--set nodes=-3", "field `nodes`"]);
}

#[test]
fn zero_durations_and_repeats_are_refused() {
    let e = error(&with(TEXT, &[("duration = \"120s\"", "duration = \"0\"")]), &[]);
    assert_names(&e, &["checked.toml, line 3", "field `duration`"]);
    let e = error(TEXT, &["repeat=0"]);
    assert_names(&e, &["--set repeat=0", "field `repeat`"]);
    // swim-core's own check, located at the knob its message names.
    let e = error(TEXT, &["config.probe_interval=\"0\""]);
    assert_names(&e, &["--set config.probe_interval=\"0\"", "variant `swim`", "field `config.probe_interval`"]);
}

#[test]
fn unknown_keys_name_their_line() {
    let e = error(&with(TEXT, &[("loss = 0.01", "loss = 0.01\nlos = 0.5")]), &[]);
    assert_names(&e, &["checked.toml, line 7", "field `network.los`", "unknown field"]);
    let e = error(&with(TEXT, &[("config.lifeguard = \"on\"", "config.lifegard = \"on\"")]), &[]);
    assert_names(&e, &["checked.toml, line 22", "variant `lifeguard`", "field `config.lifegard`"]);
}

#[test]
fn node_indices_and_fault_fields_are_checked() {
    let e = error(TEXT, &["faults.crash.nodes=[3, 10]"]);
    assert_names(&e, &["--set faults.crash.nodes=[3, 10]", "field `faults.crash.nodes`", "node 10 does not exist"]);
    let e = error(&with(TEXT, &[("nodes = { random = 1 }", "nodes = { fraction = 1.5 }")]), &[]);
    assert_names(&e, &["checked.toml, line 11", "field `faults.crash.nodes", "1.5"]);
    let e = error(&with(TEXT, &[("kind = \"crash\"", "kind = \"crash\"\ndelay = \"1s\"")]), &[]);
    assert_names(&e, &["checked.toml, line 10", "field `faults.crash.delay`", "does not apply to a `crash` fault"]);
    let e = error(TEXT, &["faults.crash.kind=\"slow\""]);
    assert_names(&e, &["field `faults.crash.delay`", "a `slow` fault needs `delay`", "checked.toml, line 8"]);
}

#[test]
fn untagged_values_say_what_they_accept() {
    let e = error(TEXT, &["faults.crash.nodes=\"some\""]);
    assert_names(&e, &["field `faults.crash.nodes`", "{ random = k }"]);
}

#[test]
fn the_report_compares_variants_of_the_first_axis() {
    let e = error(&format!("{TEXT}[report]\ncompare = [\"swim\", \"lifegaurd\"]\n"), &[]);
    assert_names(&e, &["checked.toml, line 25", "field `report.compare`", "`lifegaurd`", "swim, lifeguard"]);
}

#[test]
fn built_in_scenarios_name_themselves() {
    let e = Scenario::builtin_with("lifeguard", &[Setting::parse("duration=\"60s\"").unwrap()]).unwrap().unwrap_err();
    assert_names(&e, &["built-in lifeguard.toml, line ", "variant `swim / 1 slow`", "faults.crashes.count"]);
    for (name, _) in BUILTINS {
        Scenario::builtin_with(name, &[]).unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn the_latency_model_is_checked_and_names_the_line() {
    let space = with(TEXT, &[("loss = 0.01", "loss = 0.01\nspace = { dimensions = 4 }")]);
    let e = error(&space, &[]);
    assert_names(&e, &["checked.toml, line 7", "field `network.space.dimensions`", "must be 2 or 3, not 4"]);
    let e = error(&with(TEXT, &[("loss = 0.01", "loss = 0.01\nspace = { size = \"0s\" }")]), &[]);
    assert_names(&e, &["checked.toml, line 7", "field `network.space.size`", "must be positive"]);
    let e = error(&with(TEXT, &[("loss = 0.01", "loss = 0.01\nspace = { dims = 2 }")]), &[]);
    assert_names(&e, &["field `network.space.dims`", "unknown field"]);
    let e = error(&with(TEXT, &[("loss = 0.01", "loss = 0.01\nrtt_matrix = \"/nonexistent/rtt.txt\"")]), &[]);
    assert_names(&e, &["checked.toml, line 7", "field `network.rtt_matrix`", "cannot read `/nonexistent/rtt.txt`"]);
    let e = error(&space.replace("dimensions = 4", "dimensions = 3"), &["network.rtt_matrix=\"x.txt\""]);
    assert_names(&e, &["--set network.rtt_matrix=\"x.txt\"", "excludes `network.space`", "line 7"]);
}

#[test]
fn coordinate_measurements_need_coordinates_and_bounds() {
    let measured = with(TEXT, &[("loss = 0.01", "loss = 0.01\n\n[metrics]\ncoordinate_interval = \"30s\"")]);
    let e = error(&measured, &[]);
    assert_names(&e, &["checked.toml, line 9", "field `metrics.coordinate_interval`", "config.coordinates = \"on\""]);
    let e = error(&measured, &["config.coordinates=\"on\"", "metrics.coordinate_pairs=0"]);
    assert_names(&e, &["--set metrics.coordinate_pairs=0", "must be between 1 and"]);
    let e = error(TEXT, &["config.coordinates=\"sometimes\""]);
    assert_names(&e, &["field `config.coordinates`", "expected \"on\", \"off\" or a table of settings"]);
    let e = error(TEXT, &["config.coordinates={ vivaldi_cc = 2.0 }"]);
    assert_names(&e, &["field `config.coordinates.vivaldi_cc`", "outside its range"]);
    let e = error(TEXT, &["report.target_coordinate_within=\"200s\""]);
    assert_names(&e, &["field `report.target_coordinate_within`", "after the end of the run"]);
}
