//! Reading and validating definition files into [`Interface`]s.

use crate::diagnostic::Diagnostic;
use crate::names::{
    camel_case, is_camel_case, is_keyword, is_snake_case, kind_from_name, shouting_case, snake_case,
};
use septa_abi::MESSAGE_FIXED_MAX;
use septa_abi::layout::{self, FieldKind};
use septa_monitor::{FieldDescriptor, InterfaceDescriptor, MethodDescriptor};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use toml::Spanned;

/// One IPC interface, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// `CamelCase` name; the generated module is its `snake_case` form.
    pub name: String,
    /// Identifier carried in every message header.
    pub id: u32,
    /// What the interface is for.
    pub description: String,
    /// Its methods, in definition order.
    pub methods: Vec<Method>,
}

/// One method of an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Method {
    /// `snake_case` name.
    pub name: String,
    /// Identifier within the interface.
    pub id: u32,
    /// What the method does.
    pub description: String,
    /// Request fields, in order.
    pub request: Vec<Field>,
    /// Fields of a successful reply, in order.
    pub reply: Vec<Field>,
}

/// One typed field of a request or a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// `snake_case` name.
    pub name: String,
    /// Type, which fixes the field's place in the message (see [`septa_abi::layout`]).
    pub kind: FieldKind,
    /// What the field means (may be empty).
    pub description: String,
}

impl Interface {
    /// The security monitor's descriptor of this interface.
    pub fn descriptor(&self) -> InterfaceDescriptor {
        let fields = |fields: &[Field]| {
            fields
                .iter()
                .map(|field| FieldDescriptor {
                    name: field.name.clone(),
                    kind: field.kind,
                })
                .collect()
        };
        InterfaceDescriptor {
            id: self.id,
            name: self.name.clone(),
            methods: self
                .methods
                .iter()
                .map(|method| MethodDescriptor {
                    id: method.id,
                    name: method.name.clone(),
                    request: fields(&method.request),
                    reply: fields(&method.reply),
                })
                .collect(),
        }
    }

    /// The method called `name`.
    pub fn method(&self, name: &str) -> Option<&Method> {
        self.methods.iter().find(|method| method.name == name)
    }

    /// The name of the generated module (`SystemTest` -> `system_test`).
    pub fn module_name(&self) -> String {
        snake_case(&self.name)
    }
}

impl Method {
    /// The request field called `name`, with its index.
    pub fn request_field(&self, name: &str) -> Option<(usize, &Field)> {
        self.request
            .iter()
            .enumerate()
            .find(|(_, field)| field.name == name)
    }

    /// The kinds of the request fields, in order.
    pub fn request_kinds(&self) -> Vec<FieldKind> {
        self.request.iter().map(|field| field.kind).collect()
    }

    /// The kinds of the reply fields, in order.
    pub fn reply_kinds(&self) -> Vec<FieldKind> {
        self.reply.iter().map(|field| field.kind).collect()
    }
}

/// The file as written, with the positions of everything a diagnostic may point at.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefinitionFile {
    interface: InterfaceSection,
    #[serde(default)]
    method: Vec<MethodSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterfaceSection {
    name: Spanned<String>,
    id: Spanned<u32>,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodSection {
    name: Spanned<String>,
    id: Spanned<u32>,
    description: String,
    request: Option<Spanned<Vec<FieldSection>>>,
    reply: Option<Spanned<Vec<FieldSection>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSection {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    description: String,
}

/// Module names the generated code cannot take: the interfaces crate's own items and the
/// crates it refers to by name.
const RESERVED_MODULES: [&str; 4] = ["wire", "alloc", "core", "std"];

/// Method names the generated client already uses, or that would clash with generated items.
const RESERVED_METHODS: [(&str, &str); 3] = [
    ("new", "the generated client's constructor is `new`"),
    (
        "into_transport",
        "the generated client has a method `into_transport`",
    ),
    (
        "interface",
        "its constant `INTERFACE_ID` would clash with the interface's own",
    ),
];

/// Parses and validates the definition `text`, read from `file` (used in diagnostics only).
pub fn parse(file: &Path, text: &str) -> Result<Interface, Diagnostic> {
    parse_located(file, text).map(|located| located.interface)
}

/// An interface with the lines of its name and identifier, for diagnostics across files.
struct Located {
    interface: Interface,
    name_line: usize,
    id_line: usize,
}

fn parse_located(file: &Path, text: &str) -> Result<Located, Diagnostic> {
    let definition: DefinitionFile = toml::from_str(text)
        .map_err(|error| Diagnostic::from_toml(file, text, &error, "interfaces/README.md"))?;
    let error = |span: std::ops::Range<usize>, message: String, fix: String| {
        Diagnostic::at(file, text, span, message, fix)
    };

    let section = &definition.interface;
    let name = section.name.get_ref();
    if !is_camel_case(name) {
        return Err(error(
            section.name.span(),
            format!("interface name `{name}` is not CamelCase"),
            format!(
                "name the interface in CamelCase, for example `{}`",
                suggest_camel(name)
            ),
        ));
    }
    let module = snake_case(name);
    if is_keyword(&module) || RESERVED_MODULES.contains(&module.as_str()) {
        return Err(error(
            section.name.span(),
            format!(
                "interface name `{name}` would make a module named `{module}`, which is reserved"
            ),
            "choose another interface name".to_string(),
        ));
    }

    let mut methods: Vec<Method> = Vec::new();
    // Where each method was defined, to point back at the first of two clashing ones.
    let mut lines: Vec<usize> = Vec::new();
    for section in &definition.method {
        let method = parse_method(file, text, section)?;
        let line = crate::diagnostic::line_of(text, section.name.span().start);
        if let Some(index) = methods
            .iter()
            .position(|other| same_generated_name(other, &method))
        {
            return Err(error(
                section.name.span(),
                format!(
                    "method `{}` clashes with method `{}` defined at line {}",
                    method.name, methods[index].name, lines[index]
                ),
                "give each method a distinct name".to_string(),
            ));
        }
        if let Some(index) = methods.iter().position(|other| other.id == method.id) {
            let free = methods
                .iter()
                .map(|other| other.id)
                .max()
                .unwrap_or(0)
                .saturating_add(1);
            return Err(error(
                section.id.span(),
                format!(
                    "method id {} of `{}` is already used by `{}` at line {}",
                    method.id, method.name, methods[index].name, lines[index]
                ),
                format!("give each method its own id, for example {free}"),
            ));
        }
        methods.push(method);
        lines.push(line);
    }

    Ok(Located {
        interface: Interface {
            name: name.clone(),
            id: *section.id.get_ref(),
            description: section.description.clone(),
            methods,
        },
        name_line: crate::diagnostic::line_of(text, section.name.span().start),
        id_line: crate::diagnostic::line_of(text, section.id.span().start),
    })
}

/// Whether two methods would generate the same item names (the same name, or names that
/// differ only in where their underscores fall, like `a_b1` and `a_b_1`).
fn same_generated_name(first: &Method, second: &Method) -> bool {
    first.name == second.name
        || camel_case(&first.name) == camel_case(&second.name)
        || shouting_case(&first.name) == shouting_case(&second.name)
}

/// A `CamelCase` suggestion for a name that is not.
fn suggest_camel(name: &str) -> String {
    let suggestion = camel_case(name);
    if is_camel_case(&suggestion) {
        suggestion
    } else {
        "Echo".to_string()
    }
}

/// A `snake_case` suggestion for a name that is not.
fn suggest_snake(name: &str) -> String {
    let suggestion = snake_case(&camel_case(name));
    if is_snake_case(&suggestion) {
        suggestion
    } else {
        "value".to_string()
    }
}

fn parse_method(file: &Path, text: &str, section: &MethodSection) -> Result<Method, Diagnostic> {
    let error = |span: std::ops::Range<usize>, message: String, fix: String| {
        Diagnostic::at(file, text, span, message, fix)
    };
    let name = section.name.get_ref();
    check_snake_name(file, text, &section.name, "method")?;
    if let Some((_, why)) = RESERVED_METHODS
        .iter()
        .find(|(reserved, _)| reserved == name)
    {
        return Err(error(
            section.name.span(),
            format!("method name `{name}` is reserved: {why}"),
            "choose another method name".to_string(),
        ));
    }
    let request = parse_fields(file, text, name, "request", section.request.as_ref())?;
    let reply = parse_fields(file, text, name, "reply", section.reply.as_ref())?;
    Ok(Method {
        name: name.clone(),
        id: *section.id.get_ref(),
        description: section.description.clone(),
        request,
        reply,
    })
}

fn check_snake_name(
    file: &Path,
    text: &str,
    name: &Spanned<String>,
    what: &str,
) -> Result<(), Diagnostic> {
    let value = name.get_ref();
    if !is_snake_case(value) {
        return Err(Diagnostic::at(
            file,
            text,
            name.span(),
            format!("{what} name `{value}` is not snake_case"),
            format!(
                "name the {what} in snake_case, for example `{}`",
                suggest_snake(value)
            ),
        ));
    }
    if is_keyword(value) {
        return Err(Diagnostic::at(
            file,
            text,
            name.span(),
            format!("{what} name `{value}` is a Rust keyword"),
            format!("choose a {what} name that is not a keyword"),
        ));
    }
    Ok(())
}

fn parse_fields(
    file: &Path,
    text: &str,
    method: &str,
    part: &str,
    sections: Option<&Spanned<Vec<FieldSection>>>,
) -> Result<Vec<Field>, Diagnostic> {
    let Some(sections) = sections else {
        return Ok(Vec::new());
    };
    let mut fields: Vec<Field> = Vec::new();
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for section in sections.get_ref() {
        let name = section.name.get_ref();
        check_snake_name(file, text, &section.name, "field")?;
        if part == "request" && name == "sender" {
            return Err(Diagnostic::at(
                file,
                text,
                section.name.span(),
                format!(
                    "request field `sender` of `{method}` clashes with the `sender` parameter \
                     every server method receives"
                ),
                "rename the field, for example `source`".to_string(),
            ));
        }
        if seen.insert(name.as_str(), ()).is_some() {
            return Err(Diagnostic::at(
                file,
                text,
                section.name.span(),
                format!("field `{name}` appears twice in the {part} of `{method}`"),
                "give each field of a request or reply a distinct name".to_string(),
            ));
        }
        let type_name = section.kind.get_ref();
        let Some(kind) = kind_from_name(type_name) else {
            return Err(Diagnostic::at(
                file,
                text,
                section.kind.span(),
                format!("unknown field type `{type_name}` for field `{name}`"),
                "use one of u32, i32, u64, i64, bytes, string".to_string(),
            ));
        };
        fields.push(Field {
            name: name.clone(),
            kind,
            description: section.description.clone(),
        });
    }
    let kinds: Vec<FieldKind> = fields.iter().map(|field| field.kind).collect();
    let size = layout::fixed_size(&kinds);
    if size > MESSAGE_FIXED_MAX {
        return Err(Diagnostic::at(
            file,
            text,
            sections.span(),
            format!(
                "the {part} of `{method}` needs a fixed part of {size} bytes, more than the \
                 {MESSAGE_FIXED_MAX} a message allows"
            ),
            "carry the data in bytes or string fields, which live in the arena, or split the method"
                .to_string(),
        ));
    }
    Ok(fields)
}

/// Reads and validates one definition file.
pub fn parse_file(path: &Path) -> Result<Interface, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Diagnostic::whole_file(
            path,
            format!("cannot read the definition: {error}"),
            "check that the file exists and is readable UTF-8",
        )
    })?;
    parse(path, &text)
}

/// Reads and validates every `*.toml` file in `directory`, in file-name order, and checks that
/// no two interfaces share a name or an identifier.
pub fn parse_directory(directory: &Path) -> Result<Vec<Interface>, Diagnostic> {
    let unreadable = |error: std::io::Error| {
        Diagnostic::whole_file(
            directory,
            format!("cannot list the interface definitions: {error}"),
            "check that the directory exists and is readable",
        )
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(directory).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
            && path.is_file()
        {
            paths.push(path);
        }
    }
    paths.sort();

    let mut interfaces: Vec<Interface> = Vec::new();
    let mut sources: Vec<std::path::PathBuf> = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|error| {
            Diagnostic::whole_file(
                &path,
                format!("cannot read the definition: {error}"),
                "check that the file is readable UTF-8",
            )
        })?;
        let Located {
            interface,
            name_line,
            id_line,
        } = parse_located(&path, &text)?;
        let clash = |line: usize, message: String, fix: String| Diagnostic {
            file: path.clone(),
            line: Some(line),
            message,
            fix,
        };
        if let Some(index) = interfaces.iter().position(|other| other.id == interface.id) {
            let free = interfaces
                .iter()
                .map(|other| other.id)
                .max()
                .unwrap_or(0)
                .saturating_add(1);
            return Err(clash(
                id_line,
                format!(
                    "interface id {} of `{}` is already used by `{}` in {}",
                    interface.id,
                    interface.name,
                    interfaces[index].name,
                    sources[index].display()
                ),
                format!("give each interface its own id, for example {free}"),
            ));
        }
        if let Some(index) = interfaces
            .iter()
            .position(|other| snake_case(&other.name) == snake_case(&interface.name))
        {
            return Err(clash(
                name_line,
                format!(
                    "interface `{}` clashes with interface `{}` in {}",
                    interface.name,
                    interfaces[index].name,
                    sources[index].display()
                ),
                "give each interface a distinct name".to_string(),
            ));
        }
        interfaces.push(interface);
        sources.push(path);
    }
    Ok(interfaces)
}
