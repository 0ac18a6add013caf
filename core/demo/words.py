"""Word lists the demo builds names from (customers, people, products, places)."""

from __future__ import annotations

COMPANY_PREFIXES = [
    "Atlas", "Beacon", "Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Iron",
    "Juniper", "Keystone", "Lakeside", "Meridian", "Northwind", "Oakridge", "Pioneer", "Quarry",
    "Redwood", "Summit", "Tidewater", "Union", "Valley", "Westbrook", "Yellowstone", "Zenith",
    "Alpine", "Bluewater", "Cobalt", "Drake", "Eastgate", "Frontier", "Goldcrest", "Highland",
    "Ironwood", "Kingsley", "Lincoln", "Mariner", "Newport", "Orion", "Prairie",
]
COMPANY_CORES = [
    "Manufacturing", "Logistics", "Engineering", "Foods", "Construction", "Plastics", "Metals",
    "Automotive", "Energy", "Pharma", "Textiles", "Electronics", "Packaging", "Marine",
    "Aerospace", "Agritech", "Chemicals", "Hospitality", "Healthcare", "Retail", "Printing",
    "Robotics", "Furniture", "Paper", "Glassworks", "Utilities", "Mining", "Brewing", "Labs",
    "Tooling", "Facilities", "Water", "Transport", "Fabrication", "Hydraulics", "Optics",
    "Ceramics", "Rubber", "Solar", "Timber",
]
COMPANY_SUFFIXES = ["Inc", "Ltd", "LLC", "Group", "Corp", "& Co", "Holdings", "Partners",
                    "Industries", "Company"]
FIRST_NAMES = [
    "Alex", "Blair", "Casey", "Dana", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kara", "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma",
    "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Ben", "Chloe", "Diego", "Emma",
]
LAST_NAMES = [
    "Anders", "Brooks", "Carter", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito",
    "Jensen", "Kowalski", "Lopez", "Murphy", "Nakamura", "Okafor", "Patel", "Quinlan", "Rossi",
    "Schmidt", "Turner", "Ueda", "Varga", "Walsh", "Xu", "Young", "Zimmer", "Bauer", "Costa",
    "Novak", "Silva",
]
CITIES = [
    "Springfield", "Riverton", "Fairview", "Georgetown", "Madison", "Clinton", "Franklin",
    "Greenville", "Bristol", "Salem", "Ashland", "Dover", "Milton", "Oxford", "Newark",
    "Burlington", "Manchester", "Hudson", "Kingston", "Lexington",
]
STREETS = ["Main St", "Oak Ave", "Industrial Pkwy", "Harbor Rd", "Mill Lane", "Commerce Dr",
           "Station Rd", "Park Ave", "River Rd", "Market St"]
CARRIERS = ["UPS", "FedEx", "DHL", "USPS", "XPO Freight"]
LOST_REASONS = ["Price", "Competitor", "No budget", "Timing", "No decision",
                "Lost to incumbent"]
RMA_REASONS = ["Damaged in transit", "Wrong item shipped", "Defective on arrival",
               "Not as described", "Customer changed mind", "Failed after use"]
INTERACTION_NOTES = {
    "call": "Check-in call about upcoming needs",
    "email": "Sent product update and price list",
    "meeting": "Quarterly business review",
    "visit": "Site visit with technical team",
    "note": "Account note",
    "promise_to_pay": "Customer promised payment of overdue invoices",
}
HOLD_REASONS = {
    "allow_nothing": "Credit review: all activity suspended",
    "pending_only": "Overdue balance: finish pending orders only",
    "cash_only": "Payment history: cash sales only",
}
PRODUCT_ADJECTIVES = ["Pro", "Max", "Lite", "Plus", "Ultra", "Eco", "Flex", "Prime"]
CARRIER_CODES = ["1Z", "FX", "DH", "US", "XP"]
