//! What the documents say of each category, in French and in English: the names people read
//! in their notice, and the likely consequences the draft for the authority gives.

use serde::{Deserialize, Serialize};

/// The language of a notice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// French, the default.
    #[default]
    Fr,
    /// English.
    En,
}

impl Language {
    /// From `fr` or `en`.
    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "fr" => Some(Language::Fr),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    /// `fr` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

/// Every category a file can hold, in the order documents list them.
pub const CATEGORIES: [&str; 9] = [
    "identity",
    "contact",
    "social_security",
    "agency_ids",
    "situation",
    "education",
    "professional",
    "followup",
    "legal_representatives",
];

/// A category as a person reads it. The NIR's last digits (`social_security_masked`) read as
/// part of the social-security number.
pub fn label(category: &str, lang: Language) -> &'static str {
    match (category, lang) {
        ("identity", Language::Fr) => {
            "votre identité (nom, prénoms, date de naissance, sexe, nationalité)"
        }
        ("identity", Language::En) => "your identity (names, birth date, sex, nationality)",
        ("contact", Language::Fr) => "vos coordonnées (adresse, courriel, téléphones)",
        ("contact", Language::En) => "your contact details (address, email, phones)",
        ("social_security", Language::Fr) => "votre numéro de sécurité sociale",
        ("social_security", Language::En) => "your social-security number",
        ("social_security_masked", Language::Fr) => {
            "les derniers chiffres de votre numéro de sécurité sociale"
        }
        ("social_security_masked", Language::En) => {
            "the last digits of your social-security number"
        }
        ("agency_ids", Language::Fr) => {
            "vos identifiants France Travail et votre numéro de dossier en mission locale"
        }
        ("agency_ids", Language::En) => {
            "your France Travail identifier and Mission locale file number"
        }
        ("situation", Language::Fr) => {
            "votre situation personnelle (ressources, aides, logement, mobilité)"
        }
        ("situation", Language::En) => {
            "your personal situation (resources, benefits, housing, mobility)"
        }
        ("education", Language::Fr) => "votre formation (niveau d'études, diplômes, formations)",
        ("education", Language::En) => "your education and training",
        ("professional", Language::Fr) => "votre parcours professionnel (expériences, contrats)",
        ("professional", Language::En) => "your work history (experience, contracts)",
        ("followup", Language::Fr) => "votre suivi (inscription, conseiller, rendez-vous)",
        ("followup", Language::En) => "your follow-up (registration, counsellor, appointments)",
        ("legal_representatives", Language::Fr) => "les coordonnées de vos représentants légaux",
        ("legal_representatives", Language::En) => "your legal representatives' details",
        (_, Language::Fr) => "d'autres informations de votre dossier",
        (_, Language::En) => "other information of your file",
    }
}

/// The likely consequences of exposing `categories` (names as in the policies), for the
/// authority, in French.
pub fn consequences(categories: &[String], minors: bool) -> Vec<&'static str> {
    let has = |c: &str| categories.iter().any(|x| x == c);
    let mut out = Vec::new();
    if has("identity") || has("contact") || has("agency_ids") {
        out.push(
            "Hameçonnage et escroqueries ciblées (courriels, SMS, appels) au nom de la mission locale, \
             de France Travail ou d'un organisme du réseau pour l'emploi, rendus crédibles par les \
             données divulguées.",
        );
    }
    if has("identity") && (has("contact") || has("social_security")) {
        out.push("Usurpation d'identité (ouverture de comptes, demandes de prestations).");
    }
    if has("social_security") || has("social_security_masked") {
        out.push("Fraude aux prestations sociales à l'aide du numéro de sécurité sociale.");
    }
    if has("situation") || has("professional") || has("education") || has("followup") {
        out.push(
            "Atteinte à la vie privée : révélation de la situation sociale, des ressources ou du \
             parcours de personnes en recherche d'emploi, pouvant conduire à une stigmatisation ou \
             à des escroqueries ciblant les bénéficiaires d'aides.",
        );
    }
    if has("legal_representatives") || minors {
        out.push(
            "Des mineurs sont concernés : leurs représentants légaux peuvent être visés par des \
             tentatives d'hameçonnage.",
        );
    }
    out
}

/// What happened, in one sentence, by kind of incident.
pub fn what_happened(kind: &str, lang: Language) -> &'static str {
    match (kind, lang) {
        ("stolen", Language::Fr) => {
            "une clé de chiffrement et une copie des données chiffrées ont été dérobées."
        }
        ("stolen", Language::En) => "an encryption key and a copy of the encrypted data were stolen.",
        ("leak", Language::Fr) => {
            "un fichier contenant des données de dossiers a été trouvé diffusé hors de nos systèmes."
        }
        ("leak", Language::En) => "a file holding data from files was found circulating outside our systems.",
        (_, Language::Fr) => {
            "un compte d'accès a été utilisé par un tiers non autorisé pour consulter des dossiers."
        }
        (_, Language::En) => "an access account was used by an unauthorised party to read files.",
    }
}

/// What was done, in one sentence, by kind of incident.
pub fn measures_taken(kind: &str, lang: Language) -> &'static str {
    match (kind, lang) {
        ("stolen", Language::Fr) => {
            "la clé dérobée a été remplacée, l'incident est analysé et la Commission nationale de \
             l'informatique et des libertés (CNIL) en est informée."
        }
        ("stolen", Language::En) => {
            "the stolen key was replaced, the incident is being analysed and the French data \
             protection authority (CNIL) is informed."
        }
        ("leak", Language::Fr) => {
            "l'origine du fichier est recherchée, l'incident est analysé et la Commission \
             nationale de l'informatique et des libertés (CNIL) en est informée."
        }
        ("leak", Language::En) => {
            "the origin of the file is being traced, the incident is being analysed and the \
             French data protection authority (CNIL) is informed."
        }
        (_, Language::Fr) => {
            "le compte utilisé a été bloqué dès la détection, l'incident est analysé et la \
             Commission nationale de l'informatique et des libertés (CNIL) en est informée."
        }
        (_, Language::En) => {
            "the account used was blocked as soon as it was detected, the incident is being \
             analysed and the French data protection authority (CNIL) is informed."
        }
    }
}
