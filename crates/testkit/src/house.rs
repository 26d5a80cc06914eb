//! The house's rules that the compiler does not hold (docs/ARCHITECTURE.md),
//! read from the sources with syn (not run, not matched as text):
//!
//! - no crate's modules import one another in a loop: a module that needs
//!   another sits above it, and what two modules both need sits below them
//!   both. A path in a `use`, an expression, a type or a macro's arguments
//!   that names a module of the same crate is an import of that module's
//!   file; doc links and comments are not (nor, a limit, the arguments of a
//!   macro that are not expressions separated by commas);
//! - no handler imports another;
//! - no handler writes through the store itself (every change a person
//!   makes is an operation of `app`);
//! - no template reaches a stored account through its fields.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// A module's path inside its crate, `[]` for the crate root.
type ModPath = Vec<String>;

/// The workspace's `crates/` folder.
fn crates() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Every Rust source file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    crate::files_under(&[dir.to_path_buf()]).into_iter().filter(|f| f.extension().is_some_and(|e| e == "rs")).collect()
}

/// What `from` reaches by `edges`, itself only through a loop.
fn reachable<K: Ord + Clone>(edges: &BTreeMap<K, BTreeSet<K>>, from: &K) -> BTreeSet<K> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.clone()];
    while let Some(k) = todo.pop() {
        for next in edges.get(&k).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

/// Every source file of a crate's `src/`, by the module it is.
fn modules(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    rust_files(src)
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(src).unwrap().with_extension("");
            let mut path: ModPath = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            if path.last().is_some_and(|l| l == "mod") || path == ["lib"] || path == ["main"] {
                path.pop();
            }
            (path, file)
        })
        .collect()
}

/// The paths a file names, each made absolute from the crate root where it
/// starts with `crate`, `self`, `super` or a child module of where it stands.
struct Names<'a> {
    known: &'a BTreeMap<ModPath, PathBuf>,
    here: ModPath,
    found: Vec<ModPath>,
    /// Whether the `use` being read is `pub` (or `pub(crate)`, …) at the
    /// file's own level: what it names is handed on under a name.
    handing_on: bool,
    handed_on: BTreeMap<String, ModPath>,
    at_file_level: bool,
    /// The names the file's `use` items bring in (`use crate::handlers::
    /// systems;` then `systems::page::show`), read in a first pass.
    in_scope: BTreeMap<String, ModPath>,
}

impl Names<'_> {
    fn absolute(&self, segments: &[String]) -> Option<ModPath> {
        let (first, rest) = segments.split_first()?;
        let mut base = self.here.clone();
        match first.as_str() {
            "crate" => base.clear(),
            "self" => {}
            "super" => {
                let mut rest = rest;
                base.pop()?;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                return Some(base.into_iter().chain(rest.iter().cloned()).collect());
            }
            name => {
                let mut child = base.clone();
                child.push(name.to_string());
                let start = if self.known.contains_key(&child) { child } else { self.in_scope.get(name)?.clone() };
                return Some(start.into_iter().chain(rest.iter().cloned()).collect());
            }
        }
        Some(base.into_iter().chain(rest.iter().cloned()).collect())
    }

    fn note(&mut self, segments: &[String]) {
        if let Some(path) = self.absolute(segments) {
            self.found.push(path);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.use_leaf(prefix, &n.ident, None),
            syn::UseTree::Rename(r) => self.use_leaf(prefix, &r.ident, Some(&r.rename)),
            syn::UseTree::Glob(_) => self.note(prefix),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], ident: &syn::Ident, alias: Option<&syn::Ident>) {
        let mut full = prefix.to_vec();
        if ident != "self" {
            full.push(ident.to_string());
        }
        if let Some(path) = self.absolute(&full) {
            let name = alias.map(|a| a.to_string()).or_else(|| full.last().cloned());
            self.in_scope.extend(name.map(|n| (n, path.clone())));
            if self.handing_on {
                let name = alias.map(|a| a.to_string()).or_else(|| full.last().cloned());
                self.handed_on.extend(name.map(|n| (n, path.clone())));
            }
            self.found.push(path);
        }
    }
}

impl<'ast> Visit<'ast> for Names<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.handing_on = !matches!(item.vis, syn::Visibility::Inherited) && self.at_file_level;
        self.use_tree(&mut Vec::new(), &item.tree);
        self.handing_on = false;
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.note(&segments);
        }
        syn::visit::visit_path(self, path);
    }

    /// A macro's arguments, where they are expressions separated by commas
    /// (`vec![…]`, `format!(…)`, `assert!(…)`): the route table is one.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let args = syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
        if let Ok(exprs) = mac.parse_body_with(args) {
            for e in &exprs {
                self.visit_expr(e);
            }
        }
        syn::visit::visit_macro(self, mac);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        // A module written inline stands one level down for `super` and
        // `self`; its file is still the one being read.
        if item.content.is_some() {
            let level = std::mem::replace(&mut self.at_file_level, false);
            self.here.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.here.pop();
            self.at_file_level = level;
        }
    }
}

/// Which files of one crate each file imports. A name a module hands on
/// (`pub use db::Store` in the crate root) is followed to the module that
/// defines it. A module and the modules inside it are one room seen from
/// outside: the crate root wires its modules and they share what it
/// defines, a `mod.rs` routes to its files and they use its helpers. So an
/// import between a file and one of its ancestors is not counted; one
/// between two modules neither of which contains the other is.
fn imports(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let known = modules(src);
    let mut found = BTreeMap::new();
    let mut handed_on = BTreeMap::new();
    for (here, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut names = Names {
            known: &known,
            here: here.clone(),
            found: Vec::new(),
            handing_on: false,
            handed_on: BTreeMap::new(),
            at_file_level: true,
            in_scope: BTreeMap::new(),
        };
        names.visit_file(&parsed);
        // Again, now that every name the file brings in is known.
        names.found.clear();
        names.visit_file(&parsed);
        found.insert(here.clone(), names.found);
        handed_on.insert(here.clone(), names.handed_on);
    }
    // The module a path ends in, through the names modules hand on (a
    // bounded number of steps: `pub use` may name itself).
    let module_of = |path: &ModPath| -> Option<ModPath> {
        let mut path = path.clone();
        for _ in 0..8 {
            let n = (0..=path.len()).rev().find(|n| known.contains_key(&path[..*n]))?;
            match path.get(n).and_then(|name| handed_on[&path[..n]].get(name)) {
                Some(target) if *target != path[..=n] => path = target.iter().chain(&path[n + 1..]).cloned().collect(),
                _ => return Some(path[..n].to_vec()),
            }
        }
        None
    };
    known
        .iter()
        .map(|(here, file)| {
            let targets = found[here]
                .iter()
                .filter_map(module_of)
                .filter(|there| !there.starts_with(here) && !here.starts_with(there))
                .map(|there| known[&there].clone())
                .collect();
            (file.clone(), targets)
        })
        .collect()
}

/// The loops of a graph: the sets of files that each reach one another
/// (by plain reachability: a crate has tens of files, not thousands).
fn loops(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<BTreeSet<PathBuf>> {
    let reached: BTreeMap<_, _> = graph.keys().map(|f| (f.clone(), reachable(graph, f))).collect();
    let mut parts: Vec<BTreeSet<PathBuf>> = Vec::new();
    for f in graph.keys() {
        if parts.iter().any(|p| p.contains(f)) || !reached[f].contains(f) {
            continue;
        }
        let part = graph.keys().filter(|g| reached[f].contains(*g) && reached[*g].contains(f)).cloned().collect();
        parts.push(part);
    }
    parts
}

#[test]
fn no_crate_s_modules_import_one_another_in_a_loop() {
    let crates = crates();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(crates).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() {
            let graph = imports(&src);
            let name = |f: &PathBuf| f.strip_prefix(crates).unwrap().display().to_string();
            for part in loops(&graph) {
                found.push(format!("a loop of {} files:", part.len()));
                for from in &part {
                    let to: Vec<_> = graph[from].intersection(&part).map(name).collect();
                    found.push(format!("  {} → {}", name(from), to.join(", ")));
                }
            }
        }
    }
    assert!(found.is_empty(), "import loops:\n{}", found.join("\n"));
}

/// A handler (a module the route table names) imports no other handler:
/// what two screens share is in `handlers/mod.rs` or a module of shared
/// view code (`pager.rs`, `item_view.rs` …), which the table does not name.
#[test]
fn no_handler_imports_another() {
    let src = crates().join("web/src");
    let graph = imports(&src);
    let handlers: BTreeSet<&PathBuf> =
        graph[&src.join("routes.rs")].iter().filter(|f| f.starts_with(src.join("handlers"))).collect();
    assert!(handlers.len() >= 20, "the route table names {} handler modules", handlers.len());
    let name = |f: &PathBuf| f.strip_prefix(&src).unwrap().display().to_string();
    let crossing: Vec<String> = handlers
        .iter()
        .flat_map(|h| graph[*h].iter().filter(|t| handlers.contains(t)).map(|t| format!("{} → {}", name(h), name(t))))
        .collect();
    assert!(crossing.is_empty(), "handlers importing handlers:\n{}", crossing.join("\n"));
}

/// The struct types a template can reach through its fields (and theirs,
/// for types defined in the same sources), by name.
fn reached_by_templates(files: &[PathBuf]) -> BTreeMap<String, BTreeSet<String>> {
    struct Types(BTreeSet<String>);
    impl<'ast> Visit<'ast> for Types {
        fn visit_path_segment(&mut self, s: &'ast syn::PathSegment) {
            self.0.insert(s.ident.to_string());
            syn::visit::visit_path_segment(self, s);
        }
    }
    let mut fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut templates = Vec::new();
    for file in files {
        let parsed = syn::parse_file(&std::fs::read_to_string(file).unwrap()).unwrap();
        let mut structs = Vec::new();
        struct Structs<'a>(&'a mut Vec<syn::ItemStruct>);
        impl<'ast> Visit<'ast> for Structs<'_> {
            fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
                self.0.push(s.clone());
            }
        }
        Structs(&mut structs).visit_file(&parsed);
        for st in structs {
            let mut types = Types(BTreeSet::new());
            for f in &st.fields {
                types.visit_type(&f.ty);
            }
            let derives_template = st.attrs.iter().any(|a| {
                a.path().is_ident("derive")
                    && a.meta.require_list().is_ok_and(|l| l.tokens.to_string().contains("Template"))
            });
            if derives_template {
                templates.push(st.ident.to_string());
            }
            fields.entry(st.ident.to_string()).or_default().extend(types.0);
        }
    }
    templates.into_iter().map(|t| (t.clone(), reachable(&fields, &t))).collect()
}

/// No template is handed a stored account (its password hash and TOTP
/// secret), not even inside another value: pages get view models.
#[test]
fn no_template_reaches_an_account_through_its_fields() {
    let reached = reached_by_templates(&rust_files(&crates().join("web/src")));
    assert!(reached.len() >= 40, "{} templates found", reached.len());
    let bad: Vec<String> = reached
        .iter()
        .filter(|(_, types)| types.contains("Account") || types.contains("CurrentUser"))
        .map(|(t, _)| t.clone())
        .collect();
    assert!(bad.is_empty(), "templates reaching an account: {bad:?}");
}

/// A made-up source file for a rule's own test, in a folder of its own.
fn one_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

#[test]
fn a_template_reaching_an_account_inside_another_value_is_found() {
    let (_dir, file) = one_file(
        "page.rs",
        "#[derive(Template)]\n#[template(path = \"a.html\")]\nstruct APage { who: Option<Viewer>, n: u32 }\n\
         struct Viewer { shown: Vec<Shown> }\nstruct Shown { account: std::sync::Arc<Account> }\n\
         #[derive(askama::Template)]\nstruct BPage { name: String, a: ShownAccount }\nstruct ShownAccount { login: String }\n",
    );
    let reached = reached_by_templates(&[file]);
    assert!(reached["APage"].contains("Account"), "{reached:?}");
    assert!(!reached["BPage"].contains("Account"), "{reached:?}");
}

/// The names of the store's methods that write: those that begin a write
/// transaction (`self.begin()`), or call one of the store's that does.
fn store_writes(files: &[PathBuf]) -> BTreeSet<String> {
    /// Each method of `impl Store`, with the methods it calls on `self`.
    struct Methods(BTreeMap<String, BTreeSet<String>>, Option<String>);
    impl<'ast> Visit<'ast> for Methods {
        fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
            let on_store = matches!(&*i.self_ty, syn::Type::Path(p) if p.path.is_ident("Store"));
            if on_store && i.trait_.is_none() {
                syn::visit::visit_item_impl(self, i);
            }
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            self.1 = Some(f.sig.ident.to_string());
            self.0.entry(f.sig.ident.to_string()).or_default();
            syn::visit::visit_impl_item_fn(self, f);
            self.1 = None;
        }
        fn visit_expr_method_call(&mut self, c: &'ast syn::ExprMethodCall) {
            let on_self = matches!(&*c.receiver, syn::Expr::Path(p) if p.path.is_ident("self"));
            if let (true, Some(current)) = (on_self, &self.1) {
                self.0.entry(current.clone()).or_default().insert(c.method.to_string());
            }
            syn::visit::visit_expr_method_call(self, c);
        }
    }
    let mut methods = Methods(BTreeMap::new(), None);
    for file in files {
        methods.visit_file(&syn::parse_file(&std::fs::read_to_string(file).unwrap()).unwrap());
    }
    let mut writes: BTreeSet<String> = ["begin".to_string()].into();
    loop {
        let more: Vec<String> = methods
            .0
            .iter()
            .filter(|(name, calls)| !writes.contains(*name) && calls.iter().any(|c| writes.contains(c)))
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            return writes;
        }
        writes.extend(more);
    }
}

/// The methods a file calls, by name, with the function that calls them.
fn method_calls(file: &Path) -> Vec<(String, String)> {
    struct Calls(Vec<(String, String)>, String);
    impl<'ast> Visit<'ast> for Calls {
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            self.1 = f.sig.ident.to_string();
            syn::visit::visit_item_fn(self, f);
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            self.1 = f.sig.ident.to_string();
            syn::visit::visit_impl_item_fn(self, f);
        }
        fn visit_expr_method_call(&mut self, c: &'ast syn::ExprMethodCall) {
            self.0.push((c.method.to_string(), self.1.clone()));
            syn::visit::visit_expr_method_call(self, c);
        }
    }
    let mut calls = Calls(Vec::new(), String::new());
    calls.visit_file(&syn::parse_file(&std::fs::read_to_string(file).unwrap()).unwrap());
    calls.0
}

/// A handler changes nothing by itself: every change a person makes goes
/// through an operation of `app` (permission, scope, workflow, audit), so
/// no handler calls a method of the store that writes. (By name: a
/// method of another type with the same name would be named here too.)
#[test]
fn no_handler_writes_through_the_store_itself() {
    let crates = crates();
    let writes = store_writes(&rust_files(&crates.join("store/src")));
    assert!(writes.len() > 60 && writes.contains("save_answer"), "{writes:?}");
    let mut found = Vec::new();
    for file in rust_files(&crates.join("web/src/handlers")) {
        for (name, caller) in method_calls(&file) {
            if writes.contains(&name) {
                found.push(format!("{} {caller}: {name}", file.strip_prefix(crates).unwrap().display()));
            }
        }
    }
    assert!(found.is_empty(), "handlers calling the store's writes:\n{}", found.join("\n"));
}

#[test]
fn a_store_method_writes_when_it_begins_a_write_transaction_or_calls_one_that_does() {
    let (_dir, file) = one_file(
        "store.rs",
        "impl Store {\n\
           pub async fn save(&self) { let tx = self.begin().await; }\n\
           pub async fn save_twice(&self) { self.save().await; self.save().await }\n\
           pub async fn read(&self) { let tx = self.begin_read().await; }\n\
           pub async fn count(&self) { self.read().await; other.begin() }\n\
         }\n\
         impl Other { pub async fn open(&self) { self.begin().await } }\n",
    );
    let writes: Vec<String> = store_writes(&[file]).into_iter().collect();
    assert_eq!(writes, ["begin", "save", "save_twice"]);
}

#[test]
fn a_loop_through_super_a_glob_a_type_a_call_and_a_name_handed_on_is_found_a_name_brought_in_and_a_macro_s_argument_are_imports_and_neither_a_doc_link_nor_a_module_s_own_inside_is_one(
) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir(src.join("a")).unwrap();
    let write = |name: &str, text: &str| std::fs::write(src.join(name), text).unwrap();
    write(
        "lib.rs",
        "//! [`c::C`]\nmod a; mod b; mod c; mod d; mod e; mod f;\npub struct Root;\npub use d::Thing as Handed;\n",
    );
    write("a/mod.rs", "mod inner;\npub fn f() { inner::g() }\n");
    write("a/inner.rs", "use super::super::b::*;\npub fn g() { super::f() }\npub fn k(_: crate::Root) {}\n");
    write("b.rs", "pub fn h() -> crate::c::C { crate::c::C }\n");
    write("c.rs", "/// [`crate::b::h`]\npub struct C;\npub fn i(_: crate::Handed) { crate::a::inner::g() }\n#[cfg(test)]\nmod tests { use super::*; }\n");
    write("d.rs", "pub struct Thing;\npub fn j() { crate::b::h(); }\n");
    write("e.rs", "use crate::a;\npub fn k() { a::inner::g() }\n");
    write("f.rs", "pub fn l() -> Vec<fn()> { vec![crate::a::inner::g] }\n");
    let graph = imports(src);
    let named = |files: &BTreeSet<PathBuf>| -> Vec<String> {
        files.iter().map(|f| f.strip_prefix(src).unwrap().display().to_string()).collect()
    };
    let found: Vec<_> = loops(&graph).iter().map(named).collect();
    assert_eq!(found, [["a/inner.rs", "b.rs", "c.rs", "d.rs"]]);
    assert_eq!(named(&graph[&src.join("c.rs")]), ["a/inner.rs", "d.rs"]);
    assert_eq!(named(&graph[&src.join("a/inner.rs")]), ["b.rs"]);
    assert_eq!(named(&graph[&src.join("e.rs")]), ["a/inner.rs", "a/mod.rs"]);
    assert_eq!(named(&graph[&src.join("f.rs")]), ["a/inner.rs"]);
    assert!(graph[&src.join("lib.rs")].is_empty() && graph[&src.join("a/mod.rs")].is_empty(), "{graph:?}");
}
