//! The world the records describe: brands (with a Zipf-like popularity),
//! their SKUs (GTIN-13 with a valid check digit, product names, ingredients)
//! and factories (id, name, address, certifications), derived from the seed.

use std::ops::Range;

use proofmark_schemas::validate::gs1_check_digit;

use crate::lexicon::{self, COUNTRIES, Category, Lang};
use crate::rng::{Rng, Weighted, domain};

/// Number of brands in every catalog.
pub const BRANDS: usize = 3_000;
/// Countries where foreign brands often have their products made.
const CONTRACT_COUNTRIES: [usize; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

/// A brand: the organisation that submits production records.
#[derive(Debug, Clone)]
pub struct Brand {
    /// The brand's `org_id` (`brand-NNNN`).
    pub org_id: String,
    /// Display name (in the brand's language).
    pub name: String,
    /// The brand's SKUs (indices into [`Catalog::skus`]).
    pub skus: Range<usize>,
    /// The brand's factories (indices into [`Catalog::factories`]).
    pub factories: Range<usize>,
    /// Popularity of the brand's SKUs (Zipf, steep).
    pub sku_popularity: Weighted,
}

/// A stock-keeping unit.
#[derive(Debug, Clone)]
pub struct Sku {
    /// The brand (index into [`Catalog::brands`]).
    pub brand: usize,
    /// The SKU identifier (`sku` column).
    pub code: String,
    /// GTIN-13 with a valid check digit.
    pub gtin: String,
    /// Product name (partly non-ASCII).
    pub name: String,
    /// Product category.
    pub category: Category,
    /// Ingredients (index into [`Catalog::ingredients`]), or none declared.
    pub ingredients: Option<usize>,
}

/// A factory.
#[derive(Debug, Clone)]
pub struct Factory {
    /// `factory_id`.
    pub id: String,
    /// `factory_name` (sometimes unknown).
    pub name: Option<String>,
    /// `factory_address` (sometimes unknown).
    pub address: Option<String>,
    /// Index in [`COUNTRIES`] of the factory's country (the origin country).
    pub country: usize,
    /// Certifications: sometimes none declared (null), sometimes an empty list.
    pub certifications: Option<Vec<&'static str>>,
}

/// Everything that does not change from one lot to the next.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The brands, most popular first.
    pub brands: Vec<Brand>,
    /// Popularity of the brands (Zipf).
    pub brand_popularity: Weighted,
    /// Every SKU.
    pub skus: Vec<Sku>,
    /// Every factory.
    pub factories: Vec<Factory>,
    /// Distinct ingredient lists.
    pub ingredients: Vec<String>,
}

fn lang_index(lang: Lang) -> usize {
    lang as usize
}

impl Catalog {
    /// The catalog of seed `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::from_parts(&[seed, domain::CATALOG]);
        let country_dist = Weighted::new(COUNTRIES.iter().map(|c| c.weight));
        let category_dist = Weighted::new(Category::WEIGHTED.iter().map(|(_, w)| *w));

        // Ingredient lists: per language and category, the base list and three
        // longer variants.
        let langs = [
            Lang::En,
            Lang::Zh,
            Lang::De,
            Lang::Fr,
            Lang::Nl,
            Lang::Da,
            Lang::It,
            Lang::Es,
            Lang::Ja,
            Lang::Ko,
        ];
        let mut ingredients = Vec::new();
        for lang in langs {
            for (cat, _) in Category::WEIGHTED {
                let base = lexicon::ingredients(lang, cat);
                for variant in 0..4 {
                    let mut s = base.to_owned();
                    if matches!(
                        cat,
                        Category::InfantFormula | Category::GrowingUpMilk | Category::GoatFormula
                    ) {
                        for extra in lexicon::EXTRA_INGREDIENTS.iter().skip(variant).step_by(2) {
                            s.push_str(extra);
                        }
                    }
                    ingredients.push(s);
                }
            }
        }
        let ingredient_index =
            |lang: Lang, cat: usize, variant: usize| (lang_index(lang) * 7 + cat) * 4 + variant;

        let mut brands = Vec::with_capacity(BRANDS);
        let mut skus = Vec::new();
        let mut factories = Vec::new();
        for b in 0..BRANDS {
            let country = country_dist.sample(&mut rng);
            let home = &COUNTRIES[country];
            let lang = home.lang;
            let (first, second) = lexicon::brand_syllables(lang);
            let a = rng.pick(first);
            let z = rng.pick(second);
            let name = match lang {
                Lang::Zh | Lang::Ja | Lang::Ko => format!("{a}{z}"),
                Lang::De | Lang::Nl | Lang::Da if rng.chance(600) => format!("{a}{z}"),
                Lang::De | Lang::Nl | Lang::Da => {
                    let mut chars = z.chars();
                    let first = chars
                        .next()
                        .map(|c| c.to_uppercase().collect::<String>())
                        .unwrap_or_default();
                    format!("{a} {first}{}", chars.as_str())
                }
                _ => format!("{a} {z}"),
            };

            let first_factory = factories.len();
            let n_factories = 1 + rng.index(3);
            for f in 0..n_factories {
                let fc = if rng.chance(850) {
                    country
                } else {
                    *rng.pick(&CONTRACT_COUNTRIES)
                };
                let fcountry = &COUNTRIES[fc];
                let (city, post) = *rng.pick(fcountry.cities);
                let street = rng.pick(lexicon::streets(fcountry.lang));
                let number = 1 + rng.below(180);
                let address = match fcountry.lang {
                    Lang::Zh => format!("{city}{street}{number}号"),
                    Lang::Ja => format!(
                        "〒{post} {city}{}-{}-{}",
                        1 + number % 9,
                        1 + number % 23,
                        number
                    ),
                    Lang::Ko => format!("{city} {street} {number}, {post}"),
                    Lang::De | Lang::Nl | Lang::Da | Lang::It | Lang::Es => {
                        format!("{street} {number}, {post} {city}, {}", fcountry.name)
                    }
                    Lang::Fr => format!("{number} {street}, {post} {city}, {}", fcountry.name),
                    Lang::En => format!("{number} {street}, {city} {post}, {}", fcountry.name),
                };
                let fname = match lang {
                    Lang::Zh => format!("{name}乳业{city}工厂"),
                    Lang::Ja => format!("{name} {city}工場"),
                    Lang::Ko => format!("{name} {city} 공장"),
                    Lang::De => format!("{name} Molkerei Werk {}", f + 1),
                    Lang::Fr => format!("Usine {name} de {city}"),
                    Lang::Nl => format!("{name} Zuivelfabriek {city}"),
                    Lang::Da => format!("{name} Mejeri {city}"),
                    Lang::It => format!("Stabilimento {name} di {city}"),
                    Lang::Es => format!("Planta {name} {city}"),
                    Lang::En => format!("{name} Manufacturing Plant {}", f + 1),
                };
                let certifications = if rng.chance(80) {
                    None
                } else if rng.chance(80) {
                    Some(Vec::new())
                } else {
                    let n = 1 + rng.index(5);
                    let start = rng.index(lexicon::CERTIFICATIONS.len());
                    let step = 1 + rng.index(4);
                    let mut list: Vec<&'static str> = (0..n)
                        .map(|i| {
                            lexicon::CERTIFICATIONS
                                [(start + i * step) % lexicon::CERTIFICATIONS.len()]
                        })
                        .collect();
                    list.dedup();
                    Some(list)
                };
                factories.push(Factory {
                    id: format!("FAC-{}-{:05}", fcountry.code, factories.len()),
                    name: (!rng.chance(20)).then_some(fname),
                    address: (!rng.chance(50)).then_some(address),
                    country: fc,
                    certifications,
                });
            }

            let first_sku = skus.len();
            let n_skus = 1 + rng.index(12);
            let main_category = category_dist.sample(&mut rng);
            let company = 10_000 + b as u64 * 3;
            for s in 0..n_skus {
                let cat_ix = if rng.chance(700) {
                    main_category
                } else {
                    category_dist.sample(&mut rng)
                };
                let category = Category::WEIGHTED[cat_ix].0;
                let variant = rng.below(3) as u32;
                let size = *rng.pick(category.sizes());
                let mut gtin = format!("{}{company:05}{s:04}", home.gs1);
                let check = gs1_check_digit(gtin.as_bytes());
                gtin.push(char::from(b'0' + check));
                let ingredient =
                    (!rng.chance(30)).then(|| ingredient_index(lang, cat_ix, rng.index(4)));
                skus.push(Sku {
                    brand: b,
                    code: format!("{}{b:04}-{s:02}{}-{size}", home.code, variant + 1),
                    gtin,
                    name: lexicon::product_name(lang, category, variant, size),
                    category,
                    ingredients: ingredient,
                });
            }
            brands.push(Brand {
                org_id: format!("brand-{b:04}"),
                name,
                skus: first_sku..skus.len(),
                factories: first_factory..factories.len(),
                sku_popularity: Weighted::zipf(n_skus, 2),
            });
        }
        Catalog {
            brands,
            brand_popularity: Weighted::zipf(BRANDS, 1),
            skus,
            factories,
            ingredients,
        }
    }

    /// Picks the SKU and factory of a new lot.
    pub fn pick_product(&self, rng: &mut Rng) -> (usize, usize) {
        let brand = &self.brands[self.brand_popularity.sample(rng)];
        let sku = brand.skus.start + brand.sku_popularity.sample(rng);
        let factory = brand.factories.start + rng.index(brand.factories.len());
        (sku, factory)
    }

    /// A stable fingerprint of the catalog's content (used by tests).
    #[cfg(test)]
    pub fn fingerprint(&self) -> u64 {
        let mut h = 0u64;
        for s in &self.skus {
            for b in s.gtin.bytes().chain(s.name.bytes()).chain(s.code.bytes()) {
                h = crate::rng::key(&[h, u64::from(b)]);
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofmark_schemas::validate::{is_valid_gtin, is_valid_identifier};

    #[test]
    fn catalog_is_deterministic_and_valid() {
        let a = Catalog::new(1);
        let b = Catalog::new(1);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), Catalog::new(2).fingerprint());
        assert_eq!(a.brands.len(), BRANDS);
        let mut gtins: Vec<&str> = a.skus.iter().map(|s| s.gtin.as_str()).collect();
        assert!(gtins.iter().all(|g| g.len() == 13 && is_valid_gtin(g)));
        gtins.sort_unstable();
        gtins.dedup();
        assert_eq!(gtins.len(), a.skus.len(), "GTINs are unique per SKU");
        assert!(
            a.skus
                .iter()
                .all(|s| is_valid_identifier(&s.code) && s.code.len() <= 64)
        );
        assert!(a.skus.iter().all(|s| s.name.len() <= 256));
        assert!(a.brands.iter().all(|b| b.name.len() <= 128));
        assert!(a.factories.iter().all(|f| is_valid_identifier(&f.id)
            && f.name.as_ref().is_none_or(|n| n.len() <= 256)
            && f.address.as_ref().is_none_or(|n| n.len() <= 512)));
        assert!(
            a.skus.iter().any(|s| !s.name.is_ascii()),
            "some product names are not ASCII"
        );
        assert!(a.factories.iter().any(|f| f.certifications.is_none()));
        assert!(
            a.factories
                .iter()
                .any(|f| f.certifications.as_ref().is_some_and(Vec::is_empty))
        );
    }

    #[test]
    fn popular_brands_dominate() {
        let cat = Catalog::new(3);
        let mut rng = Rng::new(5);
        let mut top = 0;
        for _ in 0..10_000 {
            let (sku, _) = cat.pick_product(&mut rng);
            if cat.skus[sku].brand < 30 {
                top += 1;
            }
        }
        // The top 1% of brands make nearly half of the lots (H(30) / H(3000) = 0.47).
        assert!((4_200..5_200).contains(&top), "{top}");
    }
}
