"""The fixed vocabulary of the demo data: shops, services, parts, names, vehicles, note texts.

Phone numbers come only from ranges reserved for fiction (NANP 555-0100..0199, Ofcom's drama
ranges, ACMA's fictitious ranges), so demo data can never text a real person; e-mail addresses use
the reserved example.* domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class City:
    """One place a shop can stand: its zone, dialling plan, taxes and units."""

    name: str
    region: str  # state, province or country code
    time_zone: str
    phone_prefixes: tuple[str, ...]  # E.164 prefixes; the fictional local part is appended
    phone_style: str  # "nanp", "uk", "au_land", "au_mobile"
    parts_tax: Decimal  # sales tax / VAT / GST on parts and fees (JobLine.tax_rate: 4 places)
    labor_tax: Decimal  # on labor: zero in most US states, VAT/GST abroad
    currency: str = "USD"
    distance_unit: str = "mi"
    market: str = "us"  # which vehicles people drive there: "us", "uk", "au"
    street: str = "Main St"


def _d(value: str) -> Decimal:
    return Decimal(value)


# The first cities are the ones a small demo gets: several US zones first, then London and Sydney
# early, so that any data set of a few thousand customers spans continents and DST rules.
CITIES: tuple[City, ...] = (
    City("Austin", "TX", "America/Chicago", ("+1512", "+1737"), "nanp", _d("0.0825"), _d("0"), street="S Lamar Blvd"),
    City("Brooklyn", "NY", "America/New_York", ("+1718", "+1347"), "nanp", _d("0.0888"), _d("0.0888"), street="Atlantic Ave"),
    City("Portland", "OR", "America/Los_Angeles", ("+1503", "+1971"), "nanp", _d("0"), _d("0"), street="SE Division St"),
    City("Denver", "CO", "America/Denver", ("+1303", "+1720"), "nanp", _d("0.0881"), _d("0"), street="W Colfax Ave"),
    City("Camden", "GB", "Europe/London", ("+4420",), "uk", _d("0.20"), _d("0.20"), "GBP", "km", "uk", "Kentish Town Rd"),
    City("Seattle", "WA", "America/Los_Angeles", ("+1206",), "nanp", _d("0.1035"), _d("0.1035"), street="Aurora Ave N"),
    City("Parramatta", "NSW", "Australia/Sydney", ("+612",), "au_land", _d("0.10"), _d("0.10"), "AUD", "km", "au", "Church St"),
    City("Chicago", "IL", "America/Chicago", ("+1312", "+1773"), "nanp", _d("0.1025"), _d("0"), street="N Clark St"),
    City("Phoenix", "AZ", "America/Phoenix", ("+1602", "+1480"), "nanp", _d("0.086"), _d("0"), street="E Camelback Rd"),
    City("Toronto", "ON", "America/Toronto", ("+1416", "+1647"), "nanp", _d("0.13"), _d("0.13"), "CAD", "km", street="Dundas St W"),
    City("Atlanta", "GA", "America/New_York", ("+1404", "+1678"), "nanp", _d("0.089"), _d("0"), street="Peachtree St NE"),
    City("Boston", "MA", "America/New_York", ("+1617", "+1857"), "nanp", _d("0.0625"), _d("0"), street="Boylston St"),
    City("Miami", "FL", "America/New_York", ("+1305", "+1786"), "nanp", _d("0.07"), _d("0"), street="Biscayne Blvd"),
    City("Dallas", "TX", "America/Chicago", ("+1214", "+1469"), "nanp", _d("0.0825"), _d("0"), street="Greenville Ave"),
    City("Houston", "TX", "America/Chicago", ("+1713", "+1832"), "nanp", _d("0.0825"), _d("0"), street="Westheimer Rd"),
    City("Salt Lake City", "UT", "America/Denver", ("+1801", "+1385"), "nanp", _d("0.0775"), _d("0"), street="State St"),
    City("Manchester", "GB", "Europe/London", ("+44161",), "uk", _d("0.20"), _d("0.20"), "GBP", "km", "uk", "Oxford Rd"),
    City("Melbourne", "VIC", "Australia/Melbourne", ("+613",), "au_land", _d("0.10"), _d("0.10"), "AUD", "km", "au", "Sydney Rd"),
    City("Minneapolis", "MN", "America/Chicago", ("+1612",), "nanp", _d("0.0803"), _d("0"), street="Hennepin Ave"),
    City("St. Louis", "MO", "America/Chicago", ("+1314",), "nanp", _d("0.0968"), _d("0"), street="Grand Blvd"),
    City("Las Vegas", "NV", "America/Los_Angeles", ("+1702", "+1725"), "nanp", _d("0.0838"), _d("0"), street="W Sahara Ave"),
    City("San Diego", "CA", "America/Los_Angeles", ("+1619", "+1858"), "nanp", _d("0.0775"), _d("0"), street="El Cajon Blvd"),
    City("Vancouver", "BC", "America/Vancouver", ("+1604", "+1778"), "nanp", _d("0.12"), _d("0.12"), "CAD", "km", street="Kingsway"),
    City("Detroit", "MI", "America/Detroit", ("+1313",), "nanp", _d("0.06"), _d("0"), street="Woodward Ave"),
    City("Indianapolis", "IN", "America/Indiana/Indianapolis", ("+1317",), "nanp", _d("0.07"), _d("0"), street="Keystone Ave"),
    City("Brisbane", "QLD", "Australia/Brisbane", ("+617",), "au_land", _d("0.10"), _d("0.10"), "AUD", "km", "au", "Logan Rd"),
    City("Anchorage", "AK", "America/Anchorage", ("+1907",), "nanp", _d("0"), _d("0"), street="Northern Lights Blvd"),
    City("Honolulu", "HI", "Pacific/Honolulu", ("+1808",), "nanp", _d("0.045"), _d("0.045"), street="Kapiolani Blvd"),
    City("Columbus", "OH", "America/New_York", ("+1614", "+1380"), "nanp", _d("0.075"), _d("0"), street="High St"),
    City("Charlotte", "NC", "America/New_York", ("+1704", "+1980"), "nanp", _d("0.0725"), _d("0"), street="South Blvd"),
    City("Nashville", "TN", "America/Chicago", ("+1615", "+1629"), "nanp", _d("0.0925"), _d("0"), street="Broadway"),
    City("Albuquerque", "NM", "America/Denver", ("+1505",), "nanp", _d("0.0788"), _d("0.0788"), street="Central Ave SE"),
    City("Boise", "ID", "America/Boise", ("+1208",), "nanp", _d("0.06"), _d("0"), street="Fairview Ave"),
    City("Kansas City", "MO", "America/Chicago", ("+1816",), "nanp", _d("0.0885"), _d("0"), street="Main St"),
    City("Pittsburgh", "PA", "America/New_York", ("+1412",), "nanp", _d("0.07"), _d("0"), street="Liberty Ave"),
    City("Raleigh", "NC", "America/New_York", ("+1919", "+1984"), "nanp", _d("0.0725"), _d("0"), street="Glenwood Ave"),
    City("Tampa", "FL", "America/New_York", ("+1813",), "nanp", _d("0.075"), _d("0"), street="Dale Mabry Hwy"),
    City("Orlando", "FL", "America/New_York", ("+1407", "+1321"), "nanp", _d("0.065"), _d("0"), street="Colonial Dr"),
    City("New Orleans", "LA", "America/Chicago", ("+1504",), "nanp", _d("0.0945"), _d("0"), street="Magazine St"),
    City("Oklahoma City", "OK", "America/Chicago", ("+1405",), "nanp", _d("0.0863"), _d("0"), street="NW 23rd St"),
    City("Omaha", "NE", "America/Chicago", ("+1402",), "nanp", _d("0.07"), _d("0"), street="Dodge St"),
    City("Milwaukee", "WI", "America/Chicago", ("+1414",), "nanp", _d("0.055"), _d("0"), street="Water St"),
    City("Louisville", "KY", "America/Kentucky/Louisville", ("+1502",), "nanp", _d("0.06"), _d("0"), street="Bardstown Rd"),
    City("Richmond", "VA", "America/New_York", ("+1804",), "nanp", _d("0.06"), _d("0"), street="Broad St"),
    City("Baltimore", "MD", "America/New_York", ("+1410", "+1443"), "nanp", _d("0.06"), _d("0"), street="Charles St"),
    City("Philadelphia", "PA", "America/New_York", ("+1215", "+1267"), "nanp", _d("0.08"), _d("0"), street="Spring Garden St"),
    City("Newark", "NJ", "America/New_York", ("+1973", "+1862"), "nanp", _d("0.0663"), _d("0.0663"), street="Broad St"),
    City("Hartford", "CT", "America/New_York", ("+1860",), "nanp", _d("0.0635"), _d("0.0635"), street="Farmington Ave"),
    City("Providence", "RI", "America/New_York", ("+1401",), "nanp", _d("0.07"), _d("0"), street="Thayer St"),
    City("Buffalo", "NY", "America/New_York", ("+1716",), "nanp", _d("0.0875"), _d("0.0875"), street="Elmwood Ave"),
    City("Cleveland", "OH", "America/New_York", ("+1216",), "nanp", _d("0.08"), _d("0"), street="Euclid Ave"),
    City("Cincinnati", "OH", "America/New_York", ("+1513",), "nanp", _d("0.078"), _d("0"), street="Vine St"),
    City("Memphis", "TN", "America/Chicago", ("+1901",), "nanp", _d("0.0975"), _d("0"), street="Union Ave"),
    City("Birmingham", "AL", "America/Chicago", ("+1205",), "nanp", _d("0.10"), _d("0"), street="20th St N"),
    City("San Antonio", "TX", "America/Chicago", ("+1210", "+1726"), "nanp", _d("0.0825"), _d("0"), street="Broadway St"),
    City("El Paso", "TX", "America/Denver", ("+1915",), "nanp", _d("0.0825"), _d("0"), street="Mesa St"),
    City("Tucson", "AZ", "America/Phoenix", ("+1520",), "nanp", _d("0.087"), _d("0"), street="Speedway Blvd"),
    City("Fresno", "CA", "America/Los_Angeles", ("+1559",), "nanp", _d("0.0823"), _d("0"), street="Blackstone Ave"),
    City("Spokane", "WA", "America/Los_Angeles", ("+1509",), "nanp", _d("0.09"), _d("0.09"), street="Division St"),
    City("Reno", "NV", "America/Los_Angeles", ("+1775",), "nanp", _d("0.0827"), _d("0"), street="Virginia St"),
    City("Colorado Springs", "CO", "America/Denver", ("+1719",), "nanp", _d("0.0825"), _d("0"), street="Academy Blvd"),
    City("Des Moines", "IA", "America/Chicago", ("+1515",), "nanp", _d("0.07"), _d("0.07"), street="Ingersoll Ave"),
    City("Madison", "WI", "America/Chicago", ("+1608",), "nanp", _d("0.055"), _d("0"), street="University Ave"),
    City("Leeds", "GB", "Europe/London", ("+44113",), "uk", _d("0.20"), _d("0.20"), "GBP", "km", "uk", "Kirkstall Rd"),
    City("Adelaide", "SA", "Australia/Adelaide", ("+618",), "au_land", _d("0.10"), _d("0.10"), "AUD", "km", "au", "Unley Rd"),
    City("Sacramento", "CA", "America/Los_Angeles", ("+1916", "+1279"), "nanp", _d("0.0875"), _d("0"), street="Folsom Blvd"),
)
BRANCH_SUFFIXES = ("", " North", " South", " East", " West", " Central")
MAX_LOCATIONS = 300


def location_names(count: int) -> list[tuple[str, City]]:
    """``count`` unique shop names: every city once, then its branches (``Austin North``)."""
    names: list[tuple[str, City]] = []
    for suffix in BRANCH_SUFFIXES:
        for city in CITIES:
            if len(names) == count:
                return names
            names.append((f"ServiceBay {city.name}{suffix}", city))
    return names


@dataclass(frozen=True)
class ServiceSpec:
    code: str
    name: str
    category: str
    labor_hours: str
    price: str
    interval_months: int | None
    interval_miles: int | None
    parts: tuple[tuple[str, str], ...] = ()  # (sku, quantity)
    adhoc: float = 0.0  # chance per visit of this as an unplanned repair, when not due


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("OIL-SYN", "Full synthetic oil change", "Maintenance", "0.50", "79.95", 6, 7500,
                (("FLT-OIL-STD", "1"), ("OIL-0W20-QT", "5"))),
    ServiceSpec("OIL-CONV", "Conventional oil change", "Maintenance", "0.50", "49.95", 4, 4000,
                (("FLT-OIL-STD", "1"), ("OIL-5W30-QT", "5"))),
    ServiceSpec("TIRE-ROT", "Tire rotation", "Tires", "0.50", "29.95", 6, 6000),
    ServiceSpec("ALIGN", "Four-wheel alignment", "Tires", "1.00", "119.95", 24, 20000, adhoc=0.02),
    ServiceSpec("TIRE-SET", "Four new tires, mounted and balanced", "Tires", "1.50", "99.95", None, 45000,
                (("TIRE-AS-17", "4"), ("TPMS-KIT", "4"))),
    ServiceSpec("BRAKE-F", "Front brake pads and rotors", "Brakes", "1.50", "159.95", None, 35000,
                (("PAD-CER-F", "1"), ("ROTOR-F", "2")), adhoc=0.01),
    ServiceSpec("BRAKE-R", "Rear brake pads", "Brakes", "1.20", "139.95", None, 45000, (("PAD-CER-R", "1"),)),
    ServiceSpec("BRAKE-FL", "Brake fluid exchange", "Brakes", "0.80", "99.95", 36, None, (("BRK-DOT4", "2"),)),
    ServiceSpec("BATT", "Battery test and replacement", "Electrical", "0.50", "39.95", 54, None,
                (("BATT-H6-AGM", "1"),), adhoc=0.01),
    ServiceSpec("COOL", "Coolant flush", "Cooling", "1.00", "129.95", 60, 60000, (("COOL-50-GAL", "2"),)),
    ServiceSpec("TRANS", "Transmission fluid service", "Drivetrain", "1.20", "189.95", None, 60000,
                (("ATF-MV-QT", "6"),)),
    ServiceSpec("DIFF", "Differential fluid service", "Drivetrain", "0.80", "109.95", None, 50000,
                (("GEAR-75W90-QT", "2"),)),
    ServiceSpec("CABIN", "Cabin air filter replacement", "Maintenance", "0.20", "19.95", 12, 15000,
                (("FLT-CABIN", "1"),)),
    ServiceSpec("ENG-AIR", "Engine air filter replacement", "Maintenance", "0.20", "14.95", 24, 30000,
                (("FLT-AIR", "1"),)),
    ServiceSpec("WIPER", "Wiper blade replacement", "Maintenance", "0.20", "9.95", 12, None,
                (("WIPER-22", "2"),)),
    ServiceSpec("SPARK", "Spark plug replacement", "Ignition", "1.50", "149.95", None, 90000,
                (("PLUG-IRD", "4"),)),
    ServiceSpec("BELT", "Serpentine belt replacement", "Engine", "1.00", "119.95", None, 75000,
                (("BELT-SERP", "1"),)),
    ServiceSpec("AC", "A/C performance check and recharge", "Climate", "1.00", "149.95", None, None,
                (("R1234YF-LB", "1"),), adhoc=0.03),
    ServiceSpec("DIAG", "Check-engine light diagnosis", "Diagnostics", "1.00", "129.95", None, None, adhoc=0.05),
    ServiceSpec("FUEL", "Fuel system cleaning", "Engine", "0.50", "89.95", None, 30000, (("FUEL-CLN", "1"),)),
    ServiceSpec("INSP", "Annual safety inspection", "Inspection", "0.50", "35.00", 12, None),
)
OIL_CODES = ("OIL-SYN", "OIL-CONV")

PARTS: tuple[tuple[str, str, str], ...] = (  # sku, name, price
    ("FLT-OIL-STD", "Oil filter, spin-on", "9.99"),
    ("OIL-0W20-QT", "Full synthetic oil 0W-20, 1 qt", "9.49"),
    ("OIL-5W30-QT", "Conventional oil 5W-30, 1 qt", "5.99"),
    ("TIRE-AS-17", "All-season tire 225/65R17", "159.99"),
    ("TPMS-KIT", "TPMS valve service kit", "9.99"),
    ("PAD-CER-F", "Ceramic brake pad set, front", "69.99"),
    ("PAD-CER-R", "Ceramic brake pad set, rear", "59.99"),
    ("ROTOR-F", "Brake rotor, front", "89.99"),
    ("BRK-DOT4", "Brake fluid DOT 4, 12 oz", "12.99"),
    ("BATT-H6-AGM", "AGM battery, group H6", "219.99"),
    ("COOL-50-GAL", "Coolant 50/50 premix, 1 gal", "21.99"),
    ("ATF-MV-QT", "Automatic transmission fluid, 1 qt", "11.49"),
    ("GEAR-75W90-QT", "Gear oil 75W-90, 1 qt", "14.99"),
    ("FLT-CABIN", "Cabin air filter", "24.99"),
    ("FLT-AIR", "Engine air filter", "22.99"),
    ("WIPER-22", "Wiper blade, 22 in", "19.99"),
    ("PLUG-IRD", "Iridium spark plug", "12.99"),
    ("BELT-SERP", "Serpentine belt", "49.99"),
    ("R1234YF-LB", "Refrigerant R-1234yf, 1 lb", "79.99"),
    ("FUEL-CLN", "Fuel system cleaner", "19.99"),
    ("BULB-H11", "Headlight bulb H11", "24.99"),
    ("FLT-FUEL", "Fuel filter", "34.99"),
    ("HOSE-RAD-U", "Radiator hose, upper", "39.99"),
    ("TSTAT", "Thermostat with gasket", "44.99"),
)

# Local price levels: catalog prices are US dollars; abroad a shop charges round local prices.
PRICE_LEVEL = {"USD": Decimal("1"), "CAD": Decimal("1.30"), "GBP": Decimal("0.85"), "AUD": Decimal("1.45")}

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher",
    "Karen", "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark",
    "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Paul", "Donna", "Joshua",
    "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "Timothy", "Deborah",
    "Ronald", "Stephanie", "George", "Rebecca", "Jason", "Sharon", "Edward", "Laura", "Jeffrey",
    "Cynthia", "Ryan", "Dorothy", "Jacob", "Amy", "Nicholas", "Kathleen", "Gary", "Angela", "Eric",
    "Shirley", "Jonathan", "Emma", "Stephen", "Brenda", "Larry", "Pamela", "Justin", "Nicole", "Scott",
    "Anna", "Brandon", "Samantha", "Benjamin", "Katherine", "Samuel", "Christine", "Gregory", "Debra",
    "Alexander", "Rachel", "Patrick", "Carolyn", "Frank", "Janet", "Raymond", "Maria", "Jack",
    "Olivia", "Dennis", "Heather", "Jerry", "Helen", "Tyler", "Catherine", "Aaron", "Diane", "Jose",
    "Julie", "Adam", "Victoria", "Nathan", "Joyce", "Henry", "Lauren", "Zachary", "Kelly", "Douglas",
    "Christina", "Peter", "Ruth", "Kyle", "Joan", "Noah", "Virginia", "Ethan", "Judith", "Jeremy",
    "Evelyn", "Christian", "Hannah", "Walter", "Andrea", "Keith", "Megan", "Austin", "Cheryl", "Roger",
    "Jacqueline", "Terry", "Madison", "Sean", "Teresa", "Gerald", "Abigail", "Carl", "Sophia",
    "Dylan", "Martha", "Harold", "Sara", "Jordan", "Gloria", "Jesse", "Janice", "Bryan", "Kathryn",
    "Lawrence", "Ann", "Arthur", "Isabella", "Gabriel", "Judy", "Bruce", "Charlotte", "Logan", "Julia",
    "Wei", "Mei", "Hiroshi", "Yuki", "Arjun", "Priya", "Mohammed", "Fatima", "Carlos", "Lucia",
    "Diego", "Sofia", "Luis", "Camila", "Omar", "Aisha", "Kwame", "Amara", "Liam", "Chloe",
    "Mateo", "Valentina", "Ravi", "Ananya", "Min-jun", "Seo-yeon", "Dmitri", "Olga", "Cillian", "Niamh",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz",
    "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers",
    "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard",
    "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood", "James",
    "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel",
    "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell", "Sullivan",
    "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons",
    "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin",
    "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran",
    "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison",
    "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen",
    "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter",
    "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks",
    "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox",
    "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols",
    "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer",
    "Hawkins", "Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley",
    "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane", "Riley",
    "Andrews", "Alvarado", "Ray", "Delgado", "Berry", "Perkins", "Hoffman", "Johnston", "Matthews",
    "Pena", "Richards", "Contreras", "Willis", "Carpenter", "Lawrence", "Sandoval", "Wang", "Li",
    "Zhang", "Liu", "Yamamoto", "Tanaka", "Sato", "Singh", "Kumar", "Shah", "Khan", "Ali", "Ahmed",
    "Okafor", "Mensah", "Novak", "Kowalski", "Ivanov", "Muller", "Rossi", "Dubois", "O'Brien",
    "O'Connor", "MacLeod", "Fitzgerald", "Walsh", "Byrne", "Evans-Jones", "Park", "Choi", "Pham",
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


@dataclass(frozen=True)
class VehicleSpec:
    make: str
    model: str
    wmi: str  # world manufacturer identifier: the VIN's first three characters
    first_year: int
    last_year: int
    weight: int
    synthetic: bool = True  # which oil change it gets


VEHICLES: dict[str, tuple[VehicleSpec, ...]] = {
    "us": (
        VehicleSpec("Ford", "F-150", "1FT", 2005, 2026, 12, False),
        VehicleSpec("Ford", "Escape", "1FM", 2008, 2026, 6),
        VehicleSpec("Ford", "Explorer", "1FM", 2008, 2026, 5),
        VehicleSpec("Ford", "Mustang", "1FA", 2005, 2026, 2),
        VehicleSpec("Chevrolet", "Silverado 1500", "1GC", 2005, 2026, 9, False),
        VehicleSpec("Chevrolet", "Equinox", "2GN", 2010, 2026, 6),
        VehicleSpec("Chevrolet", "Malibu", "1G1", 2008, 2025, 4, False),
        VehicleSpec("Chevrolet", "Tahoe", "1GN", 2007, 2026, 3, False),
        VehicleSpec("GMC", "Sierra 1500", "1GT", 2007, 2026, 3, False),
        VehicleSpec("Ram", "1500", "1C6", 2011, 2026, 7, False),
        VehicleSpec("Jeep", "Grand Cherokee", "1C4", 2011, 2026, 4),
        VehicleSpec("Jeep", "Wrangler", "1C4", 2007, 2026, 3, False),
        VehicleSpec("Dodge", "Charger", "2C3", 2006, 2023, 2, False),
        VehicleSpec("Toyota", "Camry", "4T1", 2007, 2026, 9),
        VehicleSpec("Toyota", "RAV4", "2T3", 2006, 2026, 9),
        VehicleSpec("Toyota", "Tacoma", "3TM", 2005, 2026, 5),
        VehicleSpec("Toyota", "Highlander", "5TD", 2008, 2026, 4),
        VehicleSpec("Toyota", "Corolla", "2T1", 2005, 2026, 6),
        VehicleSpec("Honda", "Civic", "2HG", 2006, 2026, 8),
        VehicleSpec("Honda", "Accord", "1HG", 2008, 2026, 7),
        VehicleSpec("Honda", "CR-V", "5J6", 2007, 2026, 8),
        VehicleSpec("Honda", "Pilot", "5FN", 2009, 2026, 3),
        VehicleSpec("Nissan", "Altima", "1N4", 2007, 2026, 5),
        VehicleSpec("Nissan", "Rogue", "5N1", 2008, 2026, 5),
        VehicleSpec("Nissan", "Sentra", "3N1", 2007, 2026, 3),
        VehicleSpec("Hyundai", "Elantra", "5NP", 2011, 2026, 4),
        VehicleSpec("Hyundai", "Tucson", "5NM", 2010, 2026, 3),
        VehicleSpec("Kia", "Sorento", "5XY", 2011, 2026, 3),
        VehicleSpec("Kia", "Forte", "3KP", 2014, 2026, 2),
        VehicleSpec("Subaru", "Outback", "4S4", 2005, 2026, 4),
        VehicleSpec("Subaru", "Forester", "JF2", 2005, 2026, 4),
        VehicleSpec("Mazda", "CX-5", "JM3", 2013, 2026, 3),
        VehicleSpec("Mazda", "Mazda3", "JM1", 2005, 2026, 2),
        VehicleSpec("Tesla", "Model 3", "5YJ", 2018, 2026, 3),
        VehicleSpec("Tesla", "Model Y", "5YJ", 2020, 2026, 2),
        VehicleSpec("BMW", "X5", "5UX", 2007, 2026, 2),
        VehicleSpec("BMW", "3 Series", "WBA", 2006, 2026, 2),
        VehicleSpec("Mercedes-Benz", "GLE", "4JG", 2016, 2026, 2),
        VehicleSpec("Lexus", "RX", "2T2", 2006, 2026, 2),
        VehicleSpec("Volkswagen", "Jetta", "3VW", 2006, 2026, 2),
        VehicleSpec("Audi", "Q5", "WA1", 2009, 2026, 1),
        VehicleSpec("Volvo", "XC90", "YV4", 2006, 2026, 1),
    ),
    "uk": (
        VehicleSpec("Ford", "Fiesta", "WF0", 2005, 2023, 9),
        VehicleSpec("Ford", "Focus", "WF0", 2005, 2025, 7),
        VehicleSpec("Vauxhall", "Corsa", "W0L", 2006, 2026, 8),
        VehicleSpec("Vauxhall", "Astra", "W0L", 2005, 2022, 5),
        VehicleSpec("Volkswagen", "Golf", "WVW", 2005, 2026, 7),
        VehicleSpec("Volkswagen", "Polo", "WVW", 2005, 2026, 5),
        VehicleSpec("BMW", "1 Series", "WBA", 2005, 2026, 4),
        VehicleSpec("Mercedes-Benz", "A-Class", "WDD", 2005, 2026, 4),
        VehicleSpec("Audi", "A3", "WAU", 2005, 2026, 4),
        VehicleSpec("Toyota", "Yaris", "VNK", 2006, 2026, 4),
        VehicleSpec("Toyota", "Corolla", "SB1", 2019, 2026, 3),
        VehicleSpec("Nissan", "Qashqai", "SJN", 2007, 2026, 6),
        VehicleSpec("Kia", "Sportage", "U5Y", 2010, 2026, 4),
        VehicleSpec("Land Rover", "Range Rover Evoque", "SAL", 2011, 2026, 2),
        VehicleSpec("MINI", "Hatch", "WMW", 2006, 2026, 3),
        VehicleSpec("Peugeot", "208", "VF3", 2012, 2026, 3),
        VehicleSpec("Skoda", "Octavia", "TMB", 2005, 2026, 3),
    ),
    "au": (
        VehicleSpec("Toyota", "HiLux", "MR0", 2005, 2026, 9, False),
        VehicleSpec("Toyota", "RAV4", "JTM", 2006, 2026, 7),
        VehicleSpec("Toyota", "Corolla", "JTN", 2006, 2026, 6),
        VehicleSpec("Ford", "Ranger", "MPB", 2011, 2026, 8, False),
        VehicleSpec("Mazda", "CX-5", "JM0", 2012, 2026, 6),
        VehicleSpec("Mazda", "Mazda3", "JM0", 2005, 2026, 4),
        VehicleSpec("Hyundai", "i30", "KMH", 2008, 2026, 5),
        VehicleSpec("Kia", "Sportage", "KNA", 2010, 2026, 4),
        VehicleSpec("Mitsubishi", "Triton", "MMA", 2006, 2026, 4, False),
        VehicleSpec("Mitsubishi", "Outlander", "JMF", 2007, 2026, 3),
        VehicleSpec("Subaru", "Forester", "JF1", 2005, 2026, 3),
        VehicleSpec("Holden", "Commodore", "6G1", 2005, 2020, 3, False),
        VehicleSpec("Volkswagen", "Golf", "WVW", 2005, 2026, 2),
        VehicleSpec("Tesla", "Model Y", "LRW", 2022, 2026, 2),
    ),
}

NOTE_TEXTS: tuple[str, ...] = (
    "Prefers morning drop-off; usually waits in the lounge.",
    "Asked for a call before any work over {amount}.",
    "Tread on the rear tires at 4/32 — quote a set of four next visit.",
    "Customer mentioned a squeal from the front brakes when cold.",
    "Fleet account: invoice goes to the office, not the driver.",
    "Prefers text messages; do not call during work hours.",
    "Spare key kept in the key box (tag {tag}).",
    "Loaner car requested for longer jobs.",
    "Declined the coolant flush today; remind in three months.",
    "Very happy with the last visit — left a 5-star review.",
    "Allergic to strong air fresheners; skip the cabin spray.",
    "Vehicle is leased; keep receipts for the lease return.",
    "Has an extended warranty through the dealer; check coverage first.",
    "Asked about switching to synthetic oil.",
    "Check-engine light came on after the road trip; scan next visit.",
    "Speaks Spanish at home; happy to continue in English.",
    "Drops the car off on the way to the station around 7:15.",
    "Wants all old parts returned in the trunk.",
)
NOTE_PIN_CHANCE = 0.1
CALL_ABOVE = {"USD": "$300", "CAD": "C$400", "GBP": "£250", "AUD": "A$450"}

DISCOUNTS: tuple[tuple[str, str], ...] = (  # description, amount in catalog dollars
    ("Returning customer coupon", "10.00"),
    ("Seasonal service special", "15.00"),
    ("Military and first-responder discount", "20.00"),
    ("Referral credit", "25.00"),
)
SHOP_SUPPLIES = ("Shop supplies and disposal", "4.95")

# A real person's day at the shop, in the location's local time.
OPEN_HOUR, CLOSE_HOUR = 7, 17
