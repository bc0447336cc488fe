//! A conservative static look at a policy's conditions for expressions that
//! can fail while Cedar evaluates them.
//!
//! Cedar skips a policy whose condition errors. seam denies such a request
//! anyway, but the author of a `forbid` should know its guard may not run.
//! The walk is over Cedar's JSON form of the policy and flags, from the
//! engine's list of evaluation errors: integer arithmetic (overflow),
//! extension constructors on non-literal arguments (parse failure),
//! extension methods that can overflow, `getTag` (missing tag), and
//! attribute access on an entity that seam does not put into the request's
//! entity data (entity literals, entity-typed attributes). A `has` or
//! `hasTag` test on the left of `&&`, or in an `if`, guards what follows.

use std::collections::HashSet;

use serde_json::{Map, Value};

/// Extension functions that parse their argument and fail on bad input.
const CONSTRUCTORS: &[&str] = &["ip", "decimal", "datetime", "duration"];

/// Extension methods that fail when their result does not fit.
const OVERFLOWING_METHODS: &[&str] = &["offset", "durationSince", "toDate"];

/// One expression that can fail at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    /// What can go wrong, naming the expression.
    pub message: String,
    /// The expression as Cedar text, to point at it in the source.
    pub expression: String,
    /// How to write it so it cannot fail.
    pub help: &'static str,
}

/// The hazards in the conditions of `policy` (Cedar's policy JSON).
/// `entity_attrs` names attributes the schema types as entities.
pub fn hazards(policy: &Value, entity_attrs: &HashSet<String>) -> Vec<Hazard> {
    let mut walk = Walk {
        entity_attrs,
        found: Vec::new(),
    };
    let conditions = policy["conditions"].as_array().cloned().unwrap_or_default();
    for condition in &conditions {
        walk.expr(&condition["body"], &HashSet::new());
    }
    walk.found
}

struct Walk<'a> {
    entity_attrs: &'a HashSet<String>,
    found: Vec<Hazard>,
}

/// Facts known to hold where an expression is evaluated: `has` and
/// `hasTag` tests already passed, as their JSON text.
type Guards = HashSet<String>;

impl Walk<'_> {
    fn expr(&mut self, e: &Value, guards: &Guards) {
        let Some((op, body)) = single(e) else {
            return;
        };

        match op {
            "Value" | "Var" | "Slot" | "Unknown" => {}
            "&&" => {
                self.expr(&body["left"], guards);
                let mut more = guards.clone();
                more.extend(tests_in(&body["left"], false));
                self.expr(&body["right"], &more);
            }
            "||" => {
                self.expr(&body["left"], guards);
                let mut more = guards.clone();
                more.extend(tests_in(&body["left"], true));
                self.expr(&body["right"], &more);
            }
            "if-then-else" => {
                self.expr(&body["if"], guards);
                let mut more = guards.clone();
                more.extend(tests_in(&body["if"], false));
                self.expr(&body["then"], &more);
                self.expr(&body["else"], guards);
            }
            "+" | "-" | "*" => {
                if !constant_fits(op, &body["left"], &body["right"]) {
                    self.flag(
                        format!("integer arithmetic `{}` can overflow", show(e)),
                        e,
                        "compare against bounds instead of computing, or keep \
                         the operands small literals",
                    );
                }
                self.expr(&body["left"], guards);
                self.expr(&body["right"], guards);
            }
            "neg" => {
                if !matches!(single(&body["arg"]), Some(("Value", _))) {
                    self.flag(
                        format!("negation `{}` can overflow", show(e)),
                        e,
                        "compare against bounds instead of negating",
                    );
                }
                self.expr(&body["arg"], guards);
            }
            "." => {
                self.attribute(e, &body["left"], &body["attr"], guards);
                self.expr(&body["left"], guards);
            }
            "getTag" => {
                if !guards.contains(&tag_test(body)) {
                    self.flag(
                        format!("`{}` fails when the entity has no such tag", show(e)),
                        e,
                        "test with `hasTag` first, on the left of `&&`",
                    );
                }
                self.expr(&body["left"], guards);
                self.expr(&body["right"], guards);
            }
            "!" => self.expr(&body["arg"], guards),
            "is" | "has" | "like" => self.expr(&body["left"], guards),
            "Set" => {
                for item in body.as_array().into_iter().flatten() {
                    self.expr(item, guards);
                }
            }
            "Record" => {
                for item in body.as_object().into_iter().flat_map(Map::values) {
                    self.expr(item, guards);
                }
            }
            _ if body.get("left").is_some() => {
                self.expr(&body["left"], guards);
                self.expr(&body["right"], guards);
            }
            name => self.call(e, name, body, guards),
        }
    }

    /// An extension function or method call: `name` with `body` as its
    /// argument list.
    fn call(&mut self, e: &Value, name: &str, body: &Value, guards: &Guards) {
        let args = body.as_array().cloned().unwrap_or_default();
        let literal = args.iter().all(|a| matches!(single(a), Some(("Value", _))));

        if CONSTRUCTORS.contains(&name) && !literal {
            self.flag(
                format!("`{}` fails when its argument does not parse", show(e)),
                e,
                "construct extension values from string literals only",
            );
        }
        if OVERFLOWING_METHODS.contains(&name) {
            self.flag(
                format!("`{}` can overflow", show(e)),
                e,
                "compare against a bound instead of computing a new value",
            );
        }
        for arg in &args {
            self.expr(arg, guards);
        }
    }

    /// `e` is `left.attr`: flags it when `left` may be an entity missing
    /// from the request's entity data and no `has` test guards it.
    fn attribute(&mut self, e: &Value, left: &Value, attr: &Value, guards: &Guards) {
        let absent = match single(left) {
            Some(("Value", literal)) => literal.get("__entity").is_some(),
            Some((".", inner)) => inner["attr"]
                .as_str()
                .is_some_and(|a| self.entity_attrs.contains(a)),
            _ => false,
        };
        if absent && !guards.contains(&has_test(left, attr)) {
            self.flag(
                format!(
                    "`{}` reads an attribute of an entity that is not in the \
                     request's entity data",
                    show(e)
                ),
                e,
                "seam passes only the principal, the resource and the action \
                 as entities; use `in` for memberships, or guard with `has`",
            );
        }
    }

    fn flag(&mut self, message: String, e: &Value, help: &'static str) {
        self.found.push(Hazard {
            message,
            expression: show(e),
            help,
        });
    }
}

/// The one `(key, value)` of an expression object.
fn single(e: &Value) -> Option<(&str, &Value)> {
    let object = e.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn has_test(left: &Value, attr: &Value) -> String {
    format!("has {left} {attr}")
}

fn tag_test(body: &Value) -> String {
    format!("hasTag {} {}", body["left"], body["right"])
}

/// The `has`/`hasTag` tests that hold when `e` is true (or, with
/// `negated`, when it is false), looking through `&&` (or `||`) and `!`.
fn tests_in(e: &Value, negated: bool) -> Vec<String> {
    let Some((op, body)) = single(e) else {
        return Vec::new();
    };
    match (op, negated) {
        ("has", false) => vec![has_test(&body["left"], &body["attr"])],
        ("hasTag", false) => vec![tag_test(body)],
        ("&&", false) | ("||", true) => {
            let mut all = tests_in(&body["left"], negated);
            all.extend(tests_in(&body["right"], negated));
            all
        }
        ("!", _) => tests_in(&body["arg"], !negated),
        _ => Vec::new(),
    }
}

/// Whether `left op right` is arithmetic on two literals whose result fits.
fn constant_fits(op: &str, left: &Value, right: &Value) -> bool {
    let number = |v: &Value| match single(v) {
        Some(("Value", n)) => n.as_i64(),
        _ => None,
    };
    let (Some(a), Some(b)) = (number(left), number(right)) else {
        return false;
    };
    match op {
        "+" => a.checked_add(b).is_some(),
        "-" => a.checked_sub(b).is_some(),
        _ => a.checked_mul(b).is_some(),
    }
}

/// Cedar text for an expression, close to how an author writes it.
pub fn show(e: &Value) -> String {
    let Some((op, body)) = single(e) else {
        return e.to_string();
    };
    match op {
        "Value" => match body.get("__entity") {
            Some(uid) => format!(
                "{}::{}",
                uid["type"].as_str().unwrap_or("?"),
                Value::from(uid["id"].as_str().unwrap_or(""))
            ),
            None => body.to_string(),
        },
        "Var" => body.as_str().unwrap_or("?").to_string(),
        "." => format!(
            "{}.{}",
            show(&body["left"]),
            body["attr"].as_str().unwrap_or("")
        ),
        "has" => format!(
            "{} has {}",
            show(&body["left"]),
            body["attr"].as_str().unwrap_or("")
        ),
        "neg" => format!("-{}", show(&body["arg"])),
        "!" => format!("!{}", show(&body["arg"])),
        "getTag" | "hasTag" | "contains" | "containsAll" | "containsAny" => {
            format!("{}.{op}({})", show(&body["left"]), show(&body["right"]))
        }
        _ if body.get("left").is_some() => {
            format!("{} {op} {}", show(&body["left"]), show(&body["right"]))
        }
        name => {
            let args: Vec<String> = body.as_array().into_iter().flatten().map(show).collect();
            match args.split_first() {
                Some((receiver, rest)) if !CONSTRUCTORS.contains(&name) => {
                    format!("{receiver}.{name}({})", rest.join(", "))
                }
                _ => format!("{name}({})", args.join(", ")),
            }
        }
    }
}
