//! Static word lists the catalog draws on: countries and regions, brand
//! syllables, product names, ingredients, parties. Names are synthetic; any
//! resemblance to a real brand is a coincidence of common words.

/// The language a brand labels its products in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified or traditional Chinese.
    Zh,
    /// German.
    De,
    /// French.
    Fr,
    /// Dutch.
    Nl,
    /// Danish.
    Da,
    /// Italian.
    It,
    /// Spanish.
    Es,
    /// Japanese.
    Ja,
    /// Korean.
    Ko,
}

/// An origin country or region.
#[derive(Debug, Clone, Copy)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code.
    pub code: &'static str,
    /// The name used in addresses (in the local language).
    pub name: &'static str,
    /// Labelling language of its brands.
    pub lang: Lang,
    /// Relative share of brands.
    pub weight: u64,
    /// GS1 prefix (three digits) of its barcodes.
    pub gs1: &'static str,
    /// Cities with a factory, each `(city, postcode)`.
    pub cities: &'static [(&'static str, &'static str)],
}

const fn c(
    code: &'static str,
    name: &'static str,
    lang: Lang,
    weight: u64,
    gs1: &'static str,
    cities: &'static [(&'static str, &'static str)],
) -> Country {
    Country {
        code,
        name,
        lang,
        weight,
        gs1,
        cities,
    }
}

use Lang::{Da, De, En, Es, Fr, It, Ja, Ko, Nl, Zh};

/// The 63 origin countries and regions, most exporters of infant formula,
/// dairy, honey and supplements first.
pub const COUNTRIES: [Country; 63] = [
    c(
        "NZ",
        "New Zealand",
        En,
        60,
        "942",
        &[
            ("Hamilton", "3200"),
            ("Morrinsville", "3300"),
            ("Timaru", "7910"),
            ("Mosgiel", "9024"),
        ],
    ),
    c(
        "AU",
        "Australia",
        En,
        50,
        "930",
        &[
            ("Melbourne VIC", "3000"),
            ("Shepparton VIC", "3630"),
            ("Toowoomba QLD", "4350"),
        ],
    ),
    c(
        "NL",
        "Nederland",
        Nl,
        40,
        "871",
        &[
            ("Leeuwarden", "8901"),
            ("Zwolle", "8011"),
            ("Bedum", "9781"),
        ],
    ),
    c(
        "DE",
        "Deutschland",
        De,
        40,
        "400",
        &[("Kempten", "87435"), ("Köln", "50667"), ("Fulda", "36037")],
    ),
    c(
        "FR",
        "France",
        Fr,
        35,
        "300",
        &[
            ("Rennes", "35000"),
            ("Condé-sur-Vire", "50890"),
            ("Évreux", "27000"),
        ],
    ),
    c(
        "IE",
        "Ireland",
        En,
        30,
        "539",
        &[
            ("Cork", "T12 X2P0"),
            ("Tralee", "V92 EH11"),
            ("Kilkenny", "R95 K6F8"),
        ],
    ),
    c(
        "DK",
        "Danmark",
        Da,
        25,
        "570",
        &[("Videbæk", "6920"), ("Kolding", "6000"), ("Aarhus", "8000")],
    ),
    c(
        "CH",
        "Schweiz",
        De,
        20,
        "760",
        &[
            ("Konolfingen", "3510"),
            ("Zürich", "8001"),
            ("Sursee", "6210"),
        ],
    ),
    c(
        "US",
        "United States",
        En,
        25,
        "003",
        &[
            ("Madison, WI", "53703"),
            ("Zeeland, MI", "49464"),
            ("Fresno, CA", "93721"),
        ],
    ),
    c(
        "JP",
        "日本",
        Ja,
        20,
        "490",
        &[
            ("北海道札幌市", "060-0001"),
            ("群馬県前橋市", "371-0023"),
            ("静岡県富士宮市", "418-0004"),
        ],
    ),
    c(
        "KR",
        "대한민국",
        Ko,
        15,
        "880",
        &[("경기도 평택시", "17702"), ("충청남도 천안시", "31116")],
    ),
    c(
        "CN",
        "中国",
        Zh,
        40,
        "690",
        &[
            ("黑龙江省齐齐哈尔市", "161000"),
            ("内蒙古自治区呼和浩特市", "010000"),
            ("浙江省杭州市", "310000"),
            ("湖南省长沙市", "410000"),
        ],
    ),
    c(
        "GB",
        "United Kingdom",
        En,
        15,
        "500",
        &[("Wrexham", "LL13 9UT"), ("Carlisle", "CA1 1RP")],
    ),
    c(
        "IT",
        "Italia",
        It,
        15,
        "800",
        &[
            ("Parma", "43121"),
            ("Reggio Emilia", "42121"),
            ("Cuneo", "12100"),
        ],
    ),
    c(
        "ES",
        "España",
        Es,
        12,
        "840",
        &[
            ("Zaragoza", "50001"),
            ("Lugo", "27001"),
            ("Valencia", "46001"),
        ],
    ),
    c(
        "BE",
        "Belgique",
        Fr,
        10,
        "541",
        &[("Liège", "4000"), ("Bruxelles", "1000")],
    ),
    c(
        "AT",
        "Österreich",
        De,
        10,
        "900",
        &[("Salzburg", "5020"), ("Wörgl", "6300")],
    ),
    c(
        "SE",
        "Sverige",
        En,
        8,
        "730",
        &[("Lund", "222 21"), ("Jönköping", "553 15")],
    ),
    c(
        "NO",
        "Norge",
        En,
        6,
        "700",
        &[("Oslo", "0150"), ("Bergen", "5003")],
    ),
    c(
        "FI",
        "Suomi",
        En,
        6,
        "640",
        &[("Seinäjoki", "60100"), ("Helsinki", "00100")],
    ),
    c(
        "PL",
        "Polska",
        En,
        8,
        "590",
        &[("Kraków", "31-001"), ("Białystok", "15-001")],
    ),
    c(
        "CZ",
        "Česko",
        En,
        5,
        "859",
        &[("Praha", "110 00"), ("Brno", "602 00")],
    ),
    c(
        "PT",
        "Portugal",
        En,
        5,
        "560",
        &[("Lisboa", "1100-148"), ("Porto", "4000-322")],
    ),
    c(
        "GR",
        "Ελλάδα",
        En,
        5,
        "520",
        &[("Αθήνα", "105 57"), ("Θεσσαλονίκη", "546 24")],
    ),
    c(
        "HU",
        "Magyarország",
        En,
        4,
        "599",
        &[("Budapest", "1051"), ("Győr", "9021")],
    ),
    c("SK", "Slovensko", En, 3, "858", &[("Bratislava", "811 01")]),
    c("SI", "Slovenija", En, 3, "383", &[("Ljubljana", "1000")]),
    c("HR", "Hrvatska", En, 3, "385", &[("Zagreb", "10000")]),
    c(
        "RO",
        "România",
        En,
        3,
        "594",
        &[("București", "010011"), ("Cluj-Napoca", "400001")],
    ),
    c(
        "BG",
        "България",
        En,
        3,
        "380",
        &[("София", "1000"), ("Пловдив", "4000")],
    ),
    c(
        "LT",
        "Lietuva",
        En,
        3,
        "477",
        &[("Vilnius", "01103"), ("Kaunas", "44249")],
    ),
    c("LV", "Latvija", En, 2, "475", &[("Rīga", "LV-1050")]),
    c(
        "EE",
        "Eesti",
        En,
        2,
        "474",
        &[("Tallinn", "10111"), ("Tartu", "51004")],
    ),
    c(
        "LU",
        "Luxembourg",
        Fr,
        2,
        "540",
        &[("Luxembourg", "L-1111")],
    ),
    c(
        "IS",
        "Ísland",
        En,
        2,
        "569",
        &[("Reykjavík", "101"), ("Akureyri", "600")],
    ),
    c(
        "CA",
        "Canada",
        En,
        10,
        "006",
        &[("Montréal, QC", "H2Y 1C6"), ("Guelph, ON", "N1H 3T9")],
    ),
    c(
        "MX",
        "México",
        Es,
        3,
        "750",
        &[("Ciudad de México", "06000"), ("Querétaro", "76000")],
    ),
    c(
        "BR",
        "Brasil",
        En,
        4,
        "789",
        &[("São Paulo", "01000-000"), ("Curitiba", "80010-000")],
    ),
    c(
        "AR",
        "Argentina",
        Es,
        4,
        "779",
        &[("Buenos Aires", "C1002"), ("Rafaela", "S2300")],
    ),
    c(
        "CL",
        "Chile",
        Es,
        3,
        "780",
        &[("Santiago", "8320000"), ("Osorno", "5290000")],
    ),
    c(
        "UY",
        "Uruguay",
        Es,
        3,
        "773",
        &[("Montevideo", "11000"), ("Florida", "94000")],
    ),
    c(
        "ZA",
        "South Africa",
        En,
        3,
        "600",
        &[("Cape Town", "8001"), ("Durban", "4001")],
    ),
    c("IL", "Israel", En, 2, "729", &[("Tel Aviv", "6100000")]),
    c(
        "TR",
        "Türkiye",
        En,
        3,
        "869",
        &[("İstanbul", "34000"), ("İzmir", "35000")],
    ),
    c(
        "AE",
        "United Arab Emirates",
        En,
        3,
        "629",
        &[("Dubai", "00000"), ("Abu Dhabi", "00000")],
    ),
    c("SA", "Saudi Arabia", En, 2, "628", &[("Riyadh", "11564")]),
    c(
        "IN",
        "India",
        En,
        3,
        "890",
        &[("Anand, Gujarat", "388001"), ("Pune", "411001")],
    ),
    c(
        "TH",
        "ประเทศไทย",
        En,
        4,
        "885",
        &[("กรุงเทพมหานคร", "10200"), ("Chiang Mai", "50000")],
    ),
    c(
        "VN",
        "Việt Nam",
        En,
        3,
        "893",
        &[("Hà Nội", "100000"), ("Thành phố Hồ Chí Minh", "700000")],
    ),
    c(
        "MY",
        "Malaysia",
        En,
        3,
        "955",
        &[("Kuala Lumpur", "50000"), ("Johor Bahru", "80000")],
    ),
    c(
        "SG",
        "Singapore",
        En,
        4,
        "888",
        &[("Singapore", "018989"), ("Tuas", "638367")],
    ),
    c(
        "ID",
        "Indonesia",
        En,
        2,
        "899",
        &[("Jakarta", "10110"), ("Surabaya", "60111")],
    ),
    c(
        "PH",
        "Philippines",
        En,
        2,
        "480",
        &[("Manila", "1000"), ("Cebu City", "6000")],
    ),
    c(
        "HK",
        "香港",
        Zh,
        5,
        "489",
        &[("九龍觀塘", "000000"), ("新界元朗", "000000")],
    ),
    c(
        "TW",
        "臺灣",
        Zh,
        5,
        "471",
        &[("臺北市", "100"), ("臺中市", "400")],
    ),
    c("MO", "澳門", Zh, 1, "958", &[("澳門半島", "999078")]),
    c(
        "RU",
        "Россия",
        En,
        2,
        "460",
        &[("Москва", "101000"), ("Вологда", "160000")],
    ),
    c("UA", "Україна", En, 1, "482", &[("Київ", "01001")]),
    c("BY", "Беларусь", En, 1, "481", &[("Минск", "220030")]),
    c("KZ", "Қазақстан", En, 1, "487", &[("Алматы", "050000")]),
    c("EG", "Egypt", En, 1, "622", &[("Cairo", "11511")]),
    c("MA", "Maroc", Fr, 1, "611", &[("Casablanca", "20000")]),
    c("NG", "Nigeria", En, 1, "615", &[("Lagos", "100001")]),
];

/// First and second halves of brand names, per labelling language.
pub fn brand_syllables(lang: Lang) -> (&'static [&'static str], &'static [&'static str]) {
    match lang {
        En => (
            &[
                "Kiwi", "Tasman", "Southern", "Pure", "Golden", "Green", "Alpine", "Nature's",
                "Little", "Oak", "River", "Meadow", "Clover", "Silver", "Blue", "Coastal",
                "Highland", "Harbour", "Sunny", "Wild", "True", "Bright", "Bee", "Cloud", "Fern",
                "Kauri",
            ],
            &[
                "Dairy",
                "Farms",
                "Nutrition",
                "Valley",
                "Fields",
                "Pastures",
                "Organics",
                "Kids",
                "Bee Co.",
                "Naturals",
                "Milk",
                "Harvest",
                "Creamery",
                "Sprouts",
                "Goodness",
            ],
        ),
        Zh => (
            &[
                "贝", "优", "佳", "美", "安", "康", "乐", "宝", "源", "牧", "臻", "星", "飞", "鹤",
                "合", "元", "恩", "智", "睿", "雅", "蓝", "澳", "纽", "欧", "爱", "诺", "伊", "君",
                "熙", "瑞", "禾", "悦",
            ],
            &[
                "贝", "优", "乐", "宝", "源", "牧", "臻", "星", "康", "恩", "雅", "诺", "熙", "瑞",
                "禾", "悦", "优选", "乳业", "营养", "牧场",
            ],
        ),
        De => (
            &[
                "Alpen",
                "Berg",
                "Sonnen",
                "Wiesen",
                "Grün",
                "Süd",
                "Nord",
                "Allgäuer",
                "Schwarzwälder",
                "Bio",
                "Frisch",
                "Hügel",
                "Bären",
            ],
            &[
                "milch", "land", "gold", "hof", "garten", "käserei", "natur", "quelle", "wiese",
                "glück", "tal",
            ],
        ),
        Fr => (
            &[
                "Les Prés",
                "La Ferme",
                "Laiterie",
                "Douceur",
                "Crème",
                "Petit",
                "Belle",
                "Terre",
                "Val",
                "Mont",
                "Côte",
                "Fromagerie",
            ],
            &[
                "d'Émeraude",
                "du Lac",
                "de Bretagne",
                "des Alpes",
                "Fleurie",
                "Dorée",
                "de Normandie",
                "Sainte-Mère",
                "Champêtre",
                "du Léman",
            ],
        ),
        Nl => (
            &[
                "Holland",
                "Friese",
                "Groene",
                "Zuivel",
                "Hollandse",
                "Boeren",
                "Weide",
                "Polder",
                "Zeeuwse",
            ],
            &[
                "melk", "land", "hoeve", "zuivel", "weide", "kaas", "veld", "dijk",
            ],
        ),
        Da => (
            &[
                "Nordisk",
                "Jysk",
                "Grøn",
                "Fjord",
                "Søndergaard",
                "Øko",
                "Bøgely",
                "Ærø",
                "Skov",
            ],
            &["mejeri", "gård", "mælk", "lund", "dal", "høj"],
        ),
        It => (
            &[
                "Latteria", "Prato", "Monte", "Valle", "Dolce", "Casa", "Sole", "Campo",
            ],
            &[
                "Verde", "d'Oro", "Alpino", "Fiorito", "Bello", "Sereno", "del Po",
            ],
        ),
        Es => (
            &[
                "Lácteos", "Granja", "Valle", "Sol", "Campo", "Montaña", "Estancia",
            ],
            &[
                "del Sur",
                "Dorado",
                "Verde",
                "Andino",
                "de la Sierra",
                "Pampa",
                "Feliz",
            ],
        ),
        Ja => (
            &[
                "北の",
                "雪原",
                "富士",
                "桜",
                "大地",
                "みどり",
                "やまびこ",
                "ひかり",
                "そよかぜ",
            ],
            &["牧場", "乳業", "ミルク", "ファーム", "ベビー"],
        ),
        Ko => (
            &["한라", "푸른", "해오름", "새벽", "들꽃", "산들", "맑은"],
            &["목장", "유업", "밀크", "농원", "베이비"],
        ),
    }
}

/// Product categories, each with its HS code and shelf life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Infant formula, stages 1 to 3.
    InfantFormula,
    /// Growing-up milk for toddlers.
    GrowingUpMilk,
    /// Goat-milk based formula.
    GoatFormula,
    /// Whole or skimmed milk powder.
    MilkPowder,
    /// Honey, e.g. manuka.
    Honey,
    /// Infant cereal.
    Cereal,
    /// Food supplements (fish oil, probiotics).
    Supplement,
}

impl Category {
    /// Every category, with its relative share of SKUs.
    pub const WEIGHTED: [(Category, u64); 7] = [
        (Category::InfantFormula, 40),
        (Category::GrowingUpMilk, 15),
        (Category::GoatFormula, 8),
        (Category::MilkPowder, 12),
        (Category::Honey, 10),
        (Category::Cereal, 7),
        (Category::Supplement, 8),
    ];

    /// The 10-digit (Chinese tariff) HS code.
    pub const fn hs_code(self) -> &'static str {
        match self {
            Category::InfantFormula | Category::GoatFormula => "1901101000",
            Category::GrowingUpMilk | Category::Cereal => "1901109000",
            Category::MilkPowder => "0402210000",
            Category::Honey => "0409000000",
            Category::Supplement => "2106909090",
        }
    }

    /// Shelf life in days (from, to).
    pub const fn shelf_life_days(self) -> (i64, i64) {
        match self {
            Category::InfantFormula | Category::GoatFormula | Category::GrowingUpMilk => (540, 730),
            Category::MilkPowder => (365, 720),
            Category::Honey => (1095, 1825),
            Category::Cereal => (270, 450),
            Category::Supplement => (540, 1095),
        }
    }

    /// Pack sizes in grams (or units for supplements).
    pub const fn sizes(self) -> &'static [u32] {
        match self {
            Category::InfantFormula | Category::GoatFormula | Category::GrowingUpMilk => {
                &[400, 800, 900]
            }
            Category::MilkPowder => &[500, 1000],
            Category::Honey => &[250, 340, 500],
            Category::Cereal => &[225, 250],
            Category::Supplement => &[30, 60, 90],
        }
    }
}

/// A product name for a category, variant (stage) and size, in `lang`.
pub fn product_name(lang: Lang, cat: Category, variant: u32, size: u32) -> String {
    let v = variant + 1;
    match (lang, cat) {
        (Zh, Category::InfantFormula) => format!("婴幼儿配方奶粉 {v}段 {size}g"),
        (Zh, Category::GrowingUpMilk) => format!("儿童成长配方奶粉 {}段 {size}g", v + 2),
        (Zh, Category::GoatFormula) => format!("婴幼儿配方羊奶粉 {v}段 {size}g"),
        (Zh, Category::MilkPowder) => format!("全脂高钙奶粉 {size}g"),
        (Zh, Category::Honey) => format!("麦卢卡蜂蜜 UMF{}+ {size}g", 5 * v + 5),
        (Zh, Category::Cereal) => format!("有机婴儿高铁米粉 {size}g"),
        (Zh, Category::Supplement) => format!("儿童鱼油软胶囊 {size}粒"),
        (De, Category::InfantFormula) => format!(
            "Säuglingsmilchnahrung {} {size} g",
            ["Pre", "1", "2"][v as usize - 1]
        ),
        (De, Category::GrowingUpMilk) => format!("Kindermilch ab {} Jahr {size} g", v),
        (De, Category::GoatFormula) => format!("Ziegenmilch-Folgenahrung {v} {size} g"),
        (De, Category::MilkPowder) => format!("Vollmilchpulver {size} g"),
        (De, Category::Honey) => format!("Manuka-Honig MGO {}+ {size} g", 100 * v + 163),
        (De, Category::Cereal) => format!("Bio-Babybrei Reisflocken {size} g"),
        (De, Category::Supplement) => format!("Omega-3 Kinderkapseln {size} Stück"),
        (Fr, Category::InfantFormula) => format!(
            "Lait infantile {} âge {size} g",
            ["1er", "2ème", "3ème"][v as usize - 1]
        ),
        (Fr, Category::GrowingUpMilk) => format!("Lait de croissance dès {} an {size} g", v),
        (Fr, Category::GoatFormula) => format!("Lait de chèvre infantile {v} {size} g"),
        (Fr, Category::MilkPowder) => format!("Lait entier en poudre {size} g"),
        (Fr, Category::Honey) => format!("Miel de Manuka IAA {}+ {size} g", 5 * v + 5),
        (Fr, Category::Cereal) => format!("Céréales bébé bio {size} g"),
        (Fr, Category::Supplement) => format!("Oméga-3 enfants {size} capsules"),
        (Nl, Category::InfantFormula) => format!("Zuigelingenvoeding {v} {size} g"),
        (Nl, Category::GrowingUpMilk) => format!("Groeimelk {} (vanaf 1 jaar) {size} g", v + 2),
        (Nl, Category::GoatFormula) => format!("Geitenmelk opvolgvoeding {v} {size} g"),
        (Da, Category::InfantFormula) => format!("Modermælkserstatning {v} {size} g"),
        (Da, Category::GrowingUpMilk) => format!("Økologisk vækstmælk {} {size} g", v + 2),
        (Da, Category::GoatFormula) => format!("Gedemælk tilskudsblanding {v} {size} g"),
        (It, Category::InfantFormula) => format!("Latte per lattanti {v} {size} g"),
        (It, Category::GrowingUpMilk) => format!("Latte di crescita {} {size} g", v + 2),
        (Es, Category::InfantFormula) => format!("Leche de inicio {v} {size} g"),
        (Es, Category::GrowingUpMilk) => format!("Leche de crecimiento {} {size} g", v + 2),
        (Ja, Category::InfantFormula) => format!("乳児用調製粉乳 ステップ{v} {size}g"),
        (Ja, Category::GrowingUpMilk) => format!("フォローアップミルク {size}g"),
        (Ko, Category::InfantFormula) => format!("유아식 분유 {v}단계 {size}g"),
        (Ko, Category::GrowingUpMilk) => format!("성장기 조제식 {}단계 {size}g", v + 2),
        (_, Category::InfantFormula) => format!("Infant Formula Stage {v} {size}g"),
        (_, Category::GrowingUpMilk) => format!("Growing-Up Milk Stage {} {size}g", v + 2),
        (_, Category::GoatFormula) => format!("Goat Milk Infant Formula Stage {v} {size}g"),
        (_, Category::MilkPowder) => format!("Full Cream Milk Powder {size}g"),
        (_, Category::Honey) => format!("Manuka Honey UMF {}+ {size}g", 5 * v + 5),
        (_, Category::Cereal) => format!("Organic Baby Rice Cereal {size}g"),
        (_, Category::Supplement) => format!("Kids Fish Oil Softgels {size} caps"),
    }
}

/// Ingredient lists per category, in English, Chinese, German and French
/// (other languages label in English).
pub fn ingredients(lang: Lang, cat: Category) -> &'static str {
    match (lang, cat) {
        (Zh, Category::InfantFormula | Category::GrowingUpMilk | Category::GoatFormula) => {
            "生牛乳、乳糖、植物油（高油酸葵花籽油、椰子油、低芥酸菜籽油）、浓缩乳清蛋白粉、低聚半乳糖、鱼油、碳酸钙、柠檬酸钾、维生素（C、E、A、D3、K1、B1、B6、B12）、矿物质（硫酸亚铁、硫酸锌、硫酸铜）、L-色氨酸、氯化胆碱、牛磺酸、肌醇、核苷酸"
        }
        (Zh, Category::MilkPowder) => "生牛乳、维生素D3、碳酸钙",
        (Zh, Category::Honey) => "100% 麦卢卡蜂蜜",
        (Zh, Category::Cereal) => "有机大米粉、焦磷酸铁、维生素B1、维生素B2、叶酸",
        (Zh, Category::Supplement) => "精制鱼油、明胶、甘油、纯净水、维生素E、天然柠檬香精",
        (De, Category::InfantFormula | Category::GrowingUpMilk | Category::GoatFormula) => {
            "Magermilch, Laktose, pflanzliche Öle (Sonnenblumenöl, Rapsöl, Kokosöl), Molkenproteinkonzentrat, Galakto-Oligosaccharide, Fischöl, Calciumcarbonat, Kaliumcitrat, Vitamine (C, E, A, D3, K1, B1, B6, B12), Eisensulfat, Zinksulfat, Kupfersulfat, L-Tryptophan, Cholinchlorid, Taurin, Inosit, Nukleotide"
        }
        (De, Category::MilkPowder) => "Vollmilch, Vitamin D3",
        (De, Category::Honey) => "100 % Manuka-Honig aus Neuseeland",
        (De, Category::Cereal) => {
            "Bio-Reismehl, Eisenpyrophosphat, Vitamin B1, Vitamin B2, Folsäure"
        }
        (De, Category::Supplement) => {
            "Fischöl, Gelatine, Glycerin, Wasser, Vitamin E, natürliches Zitronenaroma"
        }
        (Fr, Category::InfantFormula | Category::GrowingUpMilk | Category::GoatFormula) => {
            "Lait écrémé, lactose, huiles végétales (tournesol oléique, colza, coprah), concentré de protéines de lactosérum, galacto-oligosaccharides, huile de poisson, carbonate de calcium, citrate de potassium, vitamines (C, E, A, D3, K1, B1, B6, B12), sulfate ferreux, sulfate de zinc, sulfate de cuivre, L-tryptophane, chlorure de choline, taurine, inositol, nucléotides"
        }
        (Fr, Category::MilkPowder) => "Lait entier, vitamine D3",
        (Fr, Category::Honey) => "100 % miel de Manuka de Nouvelle-Zélande",
        (Fr, Category::Cereal) => {
            "Farine de riz biologique, pyrophosphate de fer, vitamine B1, vitamine B2, acide folique"
        }
        (Fr, Category::Supplement) => {
            "Huile de poisson, gélatine, glycérol, eau, vitamine E, arôme naturel de citron"
        }
        (_, Category::InfantFormula | Category::GrowingUpMilk | Category::GoatFormula) => {
            "Skimmed milk, lactose, vegetable oils (high oleic sunflower oil, coconut oil, rapeseed oil), whey protein concentrate, galacto-oligosaccharides, fish oil, calcium carbonate, potassium citrate, vitamins (C, E, A, D3, K1, B1, B6, B12), minerals (ferrous sulphate, zinc sulphate, copper sulphate), L-tryptophan, choline chloride, taurine, inositol, nucleotides"
        }
        (_, Category::MilkPowder) => "Whole milk, vitamin D3",
        (_, Category::Honey) => "100% New Zealand Manuka honey",
        (_, Category::Cereal) => {
            "Organic rice flour, ferric pyrophosphate, vitamin B1, vitamin B2, folic acid"
        }
        (_, Category::Supplement) => {
            "Fish oil, gelatin, glycerol, purified water, vitamin E, natural lemon flavour"
        }
    }
}

/// Optional extra ingredients appended to some SKUs' lists.
pub const EXTRA_INGREDIENTS: [&str; 6] = [
    ", lutein",
    ", docosahexaenoic acid (DHA)",
    ", arachidonic acid (ARA)",
    ", Bifidobacterium lactis",
    ", 2'-fucosyllactose (2'-FL)",
    ", lactoferrin",
];

/// Factory and food-safety certifications.
pub const CERTIFICATIONS: [&str; 14] = [
    "ISO 22000",
    "FSSC 22000",
    "HACCP",
    "BRCGS AA",
    "IFS Food",
    "SQF",
    "Halal",
    "Kosher",
    "EU Organic",
    "USDA Organic",
    "BioGro NZ",
    "GACC 境外生产企业注册",
    "CNCA 婴幼儿配方乳粉注册",
    "ISO 9001",
];

/// Streets by address style.
pub fn streets(lang: Lang) -> &'static [&'static str] {
    match lang {
        En | Ja | Ko => &[
            "Dairy Flat Road",
            "Te Rapa Road",
            "Station Street",
            "Harbour Drive",
            "Industrial Way",
            "Factory Road",
            "Creamery Lane",
        ],
        Zh => &["工业大道", "乳业路", "经济开发区纬二路", "高新路", "兴业街"],
        De => &[
            "Industriestraße",
            "Molkereistraße",
            "Hauptstraße",
            "Bahnhofstraße",
            "Gewerbering",
            "Käsereiweg",
        ],
        Fr => &[
            "rue de la Laiterie",
            "avenue de l'Europe",
            "chemin des Prés",
            "rue de l'Église",
            "boulevard Pasteur",
        ],
        Nl => &["Zuivelweg", "Industrieweg", "Kerkstraat", "Stationsweg"],
        Da => &["Mejerivej", "Industrivej", "Søndergade", "Østergade"],
        It => &[
            "Via dell'Industria",
            "Via Emilia",
            "Via Roma",
            "Strada del Caseificio",
        ],
        Es => &[
            "Calle de la Industria",
            "Calle Mayor",
            "Avenida de la Lechería",
            "Camino Real",
        ],
    }
}

/// Ports of entry, each `(name, four-digit customs code)`.
pub const PORTS: [(&str, &str); 10] = [
    ("Shanghai Yangshan Port 上海洋山港", "2248"),
    ("Ningbo Meishan Bonded Port 宁波梅山保税港区", "3104"),
    ("Guangzhou Nansha Port 广州南沙港", "5165"),
    ("Zhengzhou Xinzheng Airport 郑州新郑国际机场", "4618"),
    ("Tianjin Port 天津港", "0202"),
    (
        "Chongqing Xiyong Comprehensive Bonded Zone 重庆西永综合保税区",
        "8013",
    ),
    ("Shenzhen Qianhai Port 深圳前海港", "5349"),
    ("Xiamen Port 厦门港", "3701"),
    ("Chengdu Tianfu Airport 成都天府国际机场", "7901"),
    ("Hangzhou Xiasha Bonded Zone 杭州下沙综合保税区", "2991"),
];

/// Bonded warehouses, one per port (same order as [`PORTS`]).
pub const WAREHOUSES: [&str; 10] = [
    "上海外高桥保税物流园区 3号仓 (Waigaoqiao Bonded Logistics Park, DC 3)",
    "宁波梅山保税港区 跨境电商监管仓",
    "广州南沙保税港区 南沙跨境仓",
    "郑州新郑综合保税区 E贸易仓",
    "天津东疆保税港区 冷链跨境仓",
    "重庆西永综合保税区 1号仓",
    "深圳前海湾保税港区 前海跨境仓",
    "厦门象屿保税区 跨境电商仓",
    "成都高新综合保税区 双流仓",
    "杭州下沙保税物流中心 B仓",
];

/// Carriers: `(name, waybill prefix, digits after the prefix)`.
pub const CARRIERS: [(&str, &str, u32); 8] = [
    ("SF Express 顺丰速运", "SF", 13),
    ("JD Logistics 京东物流", "JDV", 12),
    ("China Post EMS 中国邮政速递", "E", 11),
    ("ZTO Express 中通快递", "78", 12),
    ("YTO Express 圆通速递", "YT", 13),
    ("Cainiao 菜鸟", "LP", 14),
    ("STO Express 申通快递", "77", 12),
    ("Yunda Express 韵达快递", "43", 13),
];

/// Delivery destinations (consumers' districts).
pub const DESTINATIONS: [&str; 24] = [
    "北京市朝阳区",
    "北京市海淀区",
    "上海市浦东新区",
    "上海市徐汇区",
    "广州市天河区",
    "深圳市南山区",
    "杭州市西湖区",
    "成都市武侯区",
    "武汉市洪山区",
    "南京市鼓楼区",
    "重庆市渝北区",
    "西安市雁塔区",
    "天津市南开区",
    "苏州市工业园区",
    "长沙市岳麓区",
    "郑州市金水区",
    "青岛市市南区",
    "沈阳市和平区",
    "厦门市思明区",
    "昆明市五华区",
    "合肥市蜀山区",
    "福州市鼓楼区",
    "Hong Kong, Kowloon Tong",
    "济南市历下区",
];

/// Inspection agencies: `(agency_id, name)`.
pub const AGENCIES: [(&str, &str); 14] = [
    (
        "CN-GACC",
        "中华人民共和国海关总署 General Administration of Customs of China",
    ),
    (
        "CN-CCIC",
        "中国检验认证集团 China Certification & Inspection Group",
    ),
    (
        "CN-SAMR",
        "国家市场监督管理总局 State Administration for Market Regulation",
    ),
    ("CH-SGS", "SGS Société Générale de Surveillance SA"),
    ("FR-BV", "Bureau Veritas"),
    ("GB-ITK", "Intertek Group plc"),
    ("DE-TUVSUD", "TÜV SÜD AG"),
    ("LU-EUROFINS", "Eurofins Scientific"),
    (
        "NZ-MPI",
        "Ministry for Primary Industries – Manatū Ahu Matua",
    ),
    ("NZ-AQ", "AsureQuality New Zealand"),
    (
        "AU-DAFF",
        "Department of Agriculture, Fisheries and Forestry",
    ),
    ("NL-NVWA", "Nederlandse Voedsel- en Warenautoriteit"),
    ("DK-FVST", "Fødevarestyrelsen"),
    (
        "DE-BVL",
        "Bundesamt für Verbraucherschutz und Lebensmittelsicherheit",
    ),
];

/// Index in [`AGENCIES`] of the agencies that supervise loading in a country,
/// by country code (others use the international inspection companies).
pub fn origin_agency(country: &str) -> Option<usize> {
    match country {
        "NZ" => Some(8),
        "AU" => Some(10),
        "NL" => Some(11),
        "DK" => Some(12),
        "DE" => Some(13),
        _ => None,
    }
}

/// Number of customs brokers (`broker-NNN`).
pub const BROKERS: u64 = 48;
/// Hub countries goods are often traded through.
pub const TRADE_HUBS: [&str; 5] = ["HK", "SG", "NL", "AE", "MO"];

#[cfg(test)]
mod tests {
    use super::*;
    use proofmark_schemas::country::is_iso_3166_alpha2;

    #[test]
    fn countries_are_assigned_codes_and_distinct() {
        let mut codes: Vec<&str> = COUNTRIES.iter().map(|c| c.code).collect();
        assert!(codes.iter().all(|c| is_iso_3166_alpha2(c)));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 63);
        assert!(
            COUNTRIES
                .iter()
                .all(|c| c.gs1.len() == 3 && !c.cities.is_empty())
        );
        assert!(TRADE_HUBS.iter().all(|c| is_iso_3166_alpha2(c)));
    }

    #[test]
    fn texts_fit_their_columns() {
        for (name, code) in PORTS {
            assert!(name.len() <= 128 && code.len() == 4);
        }
        assert!(WAREHOUSES.iter().all(|w| w.len() <= 256));
        assert!(
            AGENCIES
                .iter()
                .all(|(id, n)| id.len() <= 64 && n.len() <= 256)
        );
        assert!(CERTIFICATIONS.iter().all(|c| c.len() <= 256));
        for lang in [En, Zh, De, Fr, Nl, Da, It, Es, Ja, Ko] {
            for (cat, _) in Category::WEIGHTED {
                assert!(ingredients(lang, cat).len() + EXTRA_INGREDIENTS.concat().len() <= 2048);
                for v in 0..3 {
                    assert!(product_name(lang, cat, v, 900).len() < 200);
                }
            }
        }
    }
}
