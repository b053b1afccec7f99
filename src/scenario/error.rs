//! Errors of the scenario loader.

use std::fmt;

use crate::k8s::ConversionError;
use crate::model::{PolicyError, SnapshotError};

/// Where a document came from: the source (file name or `<input>`), its 1-based number among
/// the source's non-empty documents, the line it starts on, and its kind and name when known.
///
/// Displayed as `file.yaml: document 3 (line 14, Pod default/web)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentOrigin {
    /// File name, or `<input>` for text given directly.
    pub source: String,
    /// 1-based number of the document in its source (empty documents are not counted).
    pub document: usize,
    /// 1-based line on which the document starts.
    pub line: usize,
    /// For an item of a `kind: List` document, its 0-based index in `items`.
    pub item: Option<usize>,
    /// The document's `kind`, when known.
    pub kind: Option<String>,
    /// The object's `namespace/name` (or `name` for cluster-scoped objects), when known.
    pub name: Option<String>,
}

impl fmt::Display for DocumentOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {}", self.source, self.document)?;
        if let Some(item) = self.item {
            write!(f, ", items[{item}]")?;
        }
        write!(f, " (line {}", self.line)?;
        match (&self.kind, &self.name) {
            (Some(kind), Some(name)) => write!(f, ", {kind} {name}")?,
            (Some(kind), None) => write!(f, ", {kind}")?,
            (None, Some(name)) => write!(f, ", {name}")?,
            (None, None) => {}
        }
        f.write_str(")")
    }
}

/// A YAML (or JSON) document that cannot be read: bad syntax, or a value of the wrong type for
/// its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct YamlError {
    /// 1-based line of the error in the file, when known.
    pub line: Option<u64>,
    /// 1-based column of the error, when known.
    pub column: Option<u64>,
    /// The message with its location, on one line.
    pub message: String,
    /// The message with a snippet of the offending lines, for display to a person.
    pub snippet: String,
}

/// What is wrong with one document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The document is not valid YAML, or a field holds a value of the wrong type.
    #[error("{0}")]
    Yaml(YamlError),
    /// An item of a `kind: List` document cannot be read.
    #[error("{0}")]
    Json(serde_json::Error),
    /// The document names no `apiVersion` or no `kind`.
    #[error("the document has no {missing}; every document must be a Kubernetes object with apiVersion and kind")]
    MissingType {
        /// `apiVersion` or `kind`.
        missing: &'static str,
    },
    /// A kind of spillway's own API group that spillway does not know.
    #[error("unknown kind {kind:?} in {api_version} (known kinds: {known})")]
    UnknownKind {
        /// The document's apiVersion.
        api_version: String,
        /// The document's kind.
        kind: String,
        /// The kinds that are known.
        known: &'static str,
    },
    /// A kind spillway reads, under an apiVersion it does not read.
    #[error("{kind} is read as {expected}, not {api_version}; change the apiVersion")]
    WrongApiVersion {
        /// The document's kind.
        kind: String,
        /// The document's apiVersion.
        api_version: String,
        /// The apiVersion spillway reads.
        expected: &'static str,
    },
    /// A Kubernetes object that cannot be converted into spillway's model.
    #[error("{0}")]
    Conversion(ConversionError),
    /// A `KubeSchedulerConfiguration` setting spillway cannot honour.
    #[error("{field}: {message}")]
    SchedulerConfig {
        /// The path of the setting, e.g. `profiles[0].plugins.filter.enabled[1]`.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The policy (from a `Policy` or a `KubeSchedulerConfiguration`) is invalid.
    #[error("invalid policy: {0}")]
    Policy(PolicyError),
    /// The cluster the documents describe is inconsistent (e.g. a pod bound to a missing node).
    #[error("{0}")]
    Snapshot(SnapshotError),
    /// An object defined twice.
    #[error("{object} is defined twice; the first definition is at {first}")]
    Duplicate {
        /// The object, e.g. `node vm-1` or `Deployment default/web`.
        object: String,
        /// Where it was first defined.
        first: String,
    },
    /// A second policy document (`Policy` or `KubeSchedulerConfiguration`).
    #[error("a scenario takes one policy (Policy or KubeSchedulerConfiguration); the first is at {first}")]
    SecondPolicy {
        /// Where the first policy document is.
        first: String,
    },
}

/// A scenario that cannot be loaded. Every error names the source and the document (number,
/// line, kind and name when known); the cause is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A scenario file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A document is invalid or cannot be honoured.
    #[error("{origin}")]
    Document {
        /// Where the document is.
        origin: Box<DocumentOrigin>,
        /// What is wrong with it.
        #[source]
        source: DocumentError,
    },
}

impl ScenarioError {
    pub(crate) fn document(origin: &DocumentOrigin, source: DocumentError) -> ScenarioError {
        ScenarioError::Document { origin: Box::new(origin.clone()), source }
    }

    /// The document the error is about, if any.
    pub fn origin(&self) -> Option<&DocumentOrigin> {
        match self {
            ScenarioError::Document { origin, .. } => Some(origin),
            ScenarioError::Read { .. } => None,
        }
    }

    /// What is wrong with the document, if the error is about one.
    pub fn document_error(&self) -> Option<&DocumentError> {
        match self {
            ScenarioError::Document { source, .. } => Some(source),
            ScenarioError::Read { .. } => None,
        }
    }
}
