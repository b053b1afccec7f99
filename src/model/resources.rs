//! Resource vectors: CPU, memory, ephemeral storage, pod count and extended resources.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::quantity::{self, QuantityError};

/// The name of a resource as Kubernetes spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceName {
    /// `cpu`, counted in millicores.
    Cpu,
    /// `memory`, counted in bytes.
    Memory,
    /// `ephemeral-storage`, counted in bytes.
    EphemeralStorage,
    /// `pods`, the number of pods a node can hold.
    Pods,
    /// Any other (extended) resource, e.g. `nvidia.com/gpu` or `hugepages-2Mi`, counted in units.
    Extended(String),
}

impl ResourceName {
    /// Classifies a Kubernetes resource name.
    pub fn parse(name: &str) -> ResourceName {
        match name {
            "cpu" => ResourceName::Cpu,
            "memory" => ResourceName::Memory,
            "ephemeral-storage" => ResourceName::EphemeralStorage,
            "pods" => ResourceName::Pods,
            other => ResourceName::Extended(other.to_string()),
        }
    }

    /// The Kubernetes spelling of this name.
    pub fn as_str(&self) -> &str {
        match self {
            ResourceName::Cpu => "cpu",
            ResourceName::Memory => "memory",
            ResourceName::EphemeralStorage => "ephemeral-storage",
            ResourceName::Pods => "pods",
            ResourceName::Extended(name) => name,
        }
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A malformed entry in a resource list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourcesError {
    /// The quantity of a named resource could not be parsed.
    #[error("resource {resource:?}: {source}")]
    Quantity {
        /// The resource name, e.g. `cpu`.
        resource: String,
        /// What was wrong with its quantity.
        #[source]
        source: QuantityError,
    },
    /// A resource name is empty.
    #[error("a resource list holds an empty resource name")]
    EmptyName,
}

/// An amount of each resource. CPU is in millicores; memory and ephemeral storage in bytes; pods
/// and extended resources in whole units. All amounts are zero or more.
///
/// Serialized as a Kubernetes resource list (`{"cpu": "250m", "memory": "512Mi"}`); quantities
/// may be given as strings or plain numbers. Zero amounts are omitted when serializing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral (local) storage in bytes.
    pub ephemeral_storage: i64,
    /// Number of pods (meaningful in a node's allocatable).
    pub pods: i64,
    /// Extended resources by name, e.g. `nvidia.com/gpu` → 2. Zero entries are not stored.
    pub extended: BTreeMap<String, i64>,
}

impl Resources {
    /// Builds resources from `(name, quantity)` pairs in Kubernetes syntax.
    ///
    /// ```
    /// let r = spillway::Resources::parse([("cpu", "250m"), ("memory", "1Gi"), ("nvidia.com/gpu", "1")])?;
    /// assert_eq!((r.cpu_millis, r.memory, r.get_str("nvidia.com/gpu")), (250, 1 << 30, 1));
    /// # Ok::<(), spillway::model::ResourcesError>(())
    /// ```
    pub fn parse<'a, I>(pairs: I) -> Result<Resources, ResourcesError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut out = Resources::default();
        for (name, value) in pairs {
            out.set_parsed(name, value)?;
        }
        Ok(out)
    }

    /// Parses `value` as the quantity of resource `name` and stores it (replacing any previous amount).
    pub fn set_parsed(&mut self, name: &str, value: &str) -> Result<(), ResourcesError> {
        if name.is_empty() {
            return Err(ResourcesError::EmptyName);
        }
        let rn = ResourceName::parse(name);
        let parsed = match rn {
            ResourceName::Cpu => quantity::parse_millis(value),
            _ => quantity::parse_units(value),
        };
        let amount = parsed.map_err(|source| ResourcesError::Quantity { resource: name.to_string(), source })?;
        self.set(&rn, amount);
        Ok(())
    }

    /// The amount of `name`.
    pub fn get(&self, name: &ResourceName) -> i64 {
        match name {
            ResourceName::Cpu => self.cpu_millis,
            ResourceName::Memory => self.memory,
            ResourceName::EphemeralStorage => self.ephemeral_storage,
            ResourceName::Pods => self.pods,
            ResourceName::Extended(n) => self.extended.get(n).copied().unwrap_or(0),
        }
    }

    /// The amount of the resource spelled `name` (`"cpu"`, `"memory"`, `"nvidia.com/gpu"`, ...).
    pub fn get_str(&self, name: &str) -> i64 {
        self.get(&ResourceName::parse(name))
    }

    /// Sets the amount of `name`; a zero extended amount removes the entry.
    pub fn set(&mut self, name: &ResourceName, amount: i64) {
        match name {
            ResourceName::Cpu => self.cpu_millis = amount,
            ResourceName::Memory => self.memory = amount,
            ResourceName::EphemeralStorage => self.ephemeral_storage = amount,
            ResourceName::Pods => self.pods = amount,
            ResourceName::Extended(n) => {
                if amount == 0 {
                    self.extended.remove(n);
                } else {
                    self.extended.insert(n.clone(), amount);
                }
            }
        }
    }

    /// True when every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.cpu_millis == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.pods == 0
            && self.extended.values().all(|v| *v == 0)
    }

    /// Iterates over the non-zero amounts as `(name, amount)`, in a fixed order: cpu, memory,
    /// ephemeral-storage, pods, then extended resources by name.
    pub fn iter(&self) -> impl Iterator<Item = (ResourceName, i64)> + '_ {
        [
            (ResourceName::Cpu, self.cpu_millis),
            (ResourceName::Memory, self.memory),
            (ResourceName::EphemeralStorage, self.ephemeral_storage),
            (ResourceName::Pods, self.pods),
        ]
        .into_iter()
        .chain(self.extended.iter().map(|(k, v)| (ResourceName::Extended(k.clone()), *v)))
        .filter(|(_, v)| *v != 0)
    }

    /// Adds `other` to `self`, saturating at `i64::MAX`.
    pub fn add(&mut self, other: &Resources) {
        self.zip_with(other, i64::saturating_add);
    }

    /// Subtracts `other` from `self`, saturating at `i64::MIN` (amounts may go negative).
    ///
    /// ```
    /// use spillway::Resources;
    /// let mut r = Resources::parse([("cpu", "2"), ("memory", "1Gi")])?;
    /// r.sub(&Resources::parse([("cpu", "500m")])?);
    /// assert_eq!((r.cpu_millis, r.memory), (1500, 1 << 30));
    /// # Ok::<(), spillway::model::ResourcesError>(())
    /// ```
    pub fn sub(&mut self, other: &Resources) {
        self.zip_with(other, i64::saturating_sub);
    }

    /// Raises each amount of `self` to at least the matching amount of `other`.
    pub fn max_with(&mut self, other: &Resources) {
        self.zip_with(other, i64::max);
    }

    fn zip_with(&mut self, other: &Resources, f: impl Fn(i64, i64) -> i64) {
        self.cpu_millis = f(self.cpu_millis, other.cpu_millis);
        self.memory = f(self.memory, other.memory);
        self.ephemeral_storage = f(self.ephemeral_storage, other.ephemeral_storage);
        self.pods = f(self.pods, other.pods);
        for (k, v) in &other.extended {
            let e = self.extended.entry(k.clone()).or_insert(0);
            *e = f(*e, *v);
        }
        self.extended.retain(|_, v| *v != 0);
    }
}

/// Sum of several resource vectors.
impl<'a> std::iter::Sum<&'a Resources> for Resources {
    fn sum<I: Iterator<Item = &'a Resources>>(iter: I) -> Self {
        let mut out = Resources::default();
        for r in iter {
            out.add(r);
        }
        out
    }
}

impl Serialize for Resources {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries: Vec<(ResourceName, i64)> = self.iter().collect();
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (name, amount) in entries {
            let text = match name {
                ResourceName::Cpu => quantity::format_millis(amount),
                _ => quantity::format_units(amount),
            };
            map.serialize_entry(name.as_str(), &text)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Resources {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ResourcesVisitor)
    }
}

struct ResourcesVisitor;

/// A quantity written as a string or as a plain number.
#[derive(Deserialize)]
#[serde(untagged)]
enum QuantityText {
    Text(String),
    Int(i64),
    Float(f64),
}

impl QuantityText {
    fn into_string(self) -> String {
        match self {
            QuantityText::Text(s) => s,
            QuantityText::Int(i) => i.to_string(),
            QuantityText::Float(f) => f.to_string(),
        }
    }
}

impl<'de> Visitor<'de> for ResourcesVisitor {
    type Value = Resources;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a resource list such as {\"cpu\": \"250m\", \"memory\": \"512Mi\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Resources, A::Error> {
        let mut out = Resources::default();
        while let Some((name, value)) = access.next_entry::<String, QuantityText>()? {
            out.set_parsed(&name, &value.into_string()).map_err(de::Error::custom)?;
        }
        Ok(out)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Resources, E> {
        Ok(Resources::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_get() {
        let r =
            Resources::parse([("cpu", "1.5"), ("memory", "512Mi"), ("example.com/foo", "3"), ("pods", "110")]).unwrap();
        assert_eq!(r.cpu_millis, 1500);
        assert_eq!(r.memory, 512 << 20);
        assert_eq!(r.get_str("example.com/foo"), 3);
        assert_eq!(r.get_str("example.com/bar"), 0);
        assert_eq!(r.pods, 110);
    }

    #[test]
    fn bad_quantity_names_the_resource() {
        let err = Resources::parse([("memory", "12Kb")]).unwrap_err();
        assert!(err.to_string().starts_with("resource \"memory\""), "{err}");
        assert!(matches!(Resources::parse([("cpu", "-1")]), Err(ResourcesError::Quantity { .. })));
        assert_eq!(Resources::parse([("", "1")]), Err(ResourcesError::EmptyName));
    }

    #[test]
    fn add_and_max() {
        let mut a = Resources::parse([("cpu", "1"), ("x/y", "1")]).unwrap();
        let b = Resources::parse([("cpu", "2"), ("memory", "1Ki"), ("x/y", "4")]).unwrap();
        a.max_with(&b);
        assert_eq!(a, b);
        a.add(&b);
        assert_eq!((a.cpu_millis, a.memory, a.get_str("x/y")), (4000, 2048, 8));
    }

    #[test]
    fn serde_round_trip() {
        let r = Resources::parse([("cpu", "250m"), ("memory", "1Gi"), ("nvidia.com/gpu", "2")]).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"cpu":"250m","memory":"1Gi","nvidia.com/gpu":"2"}"#);
        let back: Resources = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let numeric: Resources = serde_json::from_str(r#"{"cpu": 2, "memory": 1024, "pods": 10}"#).unwrap();
        assert_eq!((numeric.cpu_millis, numeric.memory, numeric.pods), (2000, 1024, 10));
        assert!(serde_json::from_str::<Resources>(r#"{"cpu": "lots"}"#).is_err());
    }
}
