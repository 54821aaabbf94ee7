"""Local-language texts of the sample forms (Swedish, Estonian, Latvian, Lithuanian, and
generic English ones for any other form language).

Used by :mod:`bsin_dev.sample_data` to write forms that look like the partners' real ones:
question titles, choice labels and free-text answers in the form's language, each label
paired with the canonical value it stands for (docs/mapping.md). Names are fictitious.
The ``areas`` labels follow the order of ``bsin.transform.mapping.NEEDS``.
"""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, Any]] = {
    "sv": {
        "monthly": {
            "title": "Baltic Sea Impact Network – månadsuppföljning",
            "description": "Berätta hur månaden i nätverket har varit. Det tar ungefär fem minuter.",
            "section": "Kontakter och utmaningar",
            "attended_peer_session": (
                "Deltog du i månadens kollegiala lärträff?",
                {"Ja": True, "Nej": False},
            ),
            "attended_workshop": (
                "Deltog du i någon expertworkshop den här månaden?",
                {"Ja": True, "Nej": False},
            ),
            "satisfaction": (
                "Hur nöjd är du med månadens program?",
                ("Inte alls nöjd", "Mycket nöjd"),
            ),
            "relevance": (
                "Hur relevanta var månadens teman för dina behov?",
                ("Inte alls relevanta", "Mycket relevanta"),
            ),
            "recommend": (
                "Hur troligt är det att du skulle rekommendera nätverket till en annan social entreprenör?",
                ("Inte alls troligt", "Mycket troligt"),
            ),
            "new_skill": (
                "Har du lärt dig något nytt som du kan använda i din verksamhet?",
                {"Ja": "yes", "Delvis": "partly", "Nej": "no"},
            ),
            "new_connections_abroad": "Hur många nya kontakter i andra länder har du fått den här månaden?",
            "stakeholder_access": (
                "Har nätverket hjälpt dig att komma i kontakt med någon av följande?",
                {
                    "Offentlig sektor": "public_sector",
                    "Företag": "corporate",
                    "Impactinvesterare": "impact_investor",
                    "Media": "media",
                    "Ingen av dessa": "none",
                },
            ),
            "challenges": (
                "Vilka utmaningar har du just nu?",
                {
                    "Finansiering": "funding",
                    "Synlighet": "visibility",
                    "Kapacitet": "capacity",
                    "Team": "team",
                    "Politik och regelverk": "policy",
                },
            ),
            "suggestion": "Vad borde nätverket ändra eller förbättra?",
        },
        "self_assessment": {
            "title": "Baltic Sea Impact Network – självskattning",
            "description": "Dina svar hjälper oss att anpassa programmet efter dina behov.",
            "wave": (
                "När fyller du i självskattningen?",
                {"Vid start i nätverket": "baseline", "Vid programmets slut": "endline"},
            ),
            "needs": "Inom vilka områden behöver du mest stöd?",
            "capability": "Hur bedömer du din nuvarande förmåga inom varje område? (1 = låg, 5 = hög)",
            "interests": "Vad vill du helst lära dig, och vem vill du träffa i nätverket?",
            "areas": (
                "Tillgång till finansiering",
                "Synlighet",
                "Effektmätning",
                "Skalning",
                "Offentlig upphandling",
                "Partnerskap med företag",
                "Investeringsberedskap",
                "Teamledarskap",
            ),
        },
        "other_challenges": [
            "Rekrytering av volontärer",
            "Hitta lokaler",
            "Tidsbrist",
            "Digitala verktyg",
        ],
        "suggestions": [
            "Mer tid för frågor efter workshoppen.",
            "Skicka materialet några dagar före träffen.",
            "Fler exempel från de andra länderna, tack!",
            "Gärna en träff om offentlig upphandling.",
            "Kortare presentationer och mer diskussion i små grupper.",
            "Det vore bra med en gemensam kanal för att dela kontakter.",
            "Bjud in fler impactinvesterare.",
            "Bra månad, fortsätt så!",
            "Svårt att hinna med träffen på fredagar, kanske tisdagar i stället?",
            "Ett mentorprogram mellan länderna skulle vara värdefullt.",
        ],
        "interests": [
            "Vill lära mig mer om effektmätning och träffa investerare.",
            "Partnerskap med större företag och kommuner.",
            "Hur andra sociala företag i Östersjöregionen har skalat upp.",
            "Offentlig upphandling och sociala hänsyn.",
            "Teamledarskap när organisationen växer.",
        ],
        "names": [
            ("Anna", "Lindqvist"),
            ("Erik", "Johansson"),
            ("Maja", "Bergström"),
            ("Johan", "Nyström"),
            ("Sara", "Holmberg"),
            ("Oskar", "Lundgren"),
            ("Elin", "Sjöberg"),
            ("Karin", "Åkesson"),
            ("Lars", "Ekström"),
            ("Frida", "Hedlund"),
        ],
    },
    "et": {
        "monthly": {
            "title": "Baltic Sea Impact Network – igakuine tagasiside",
            "description": "Räägi meile, kuidas kuu võrgustikus möödus. Vastamine võtab umbes viis minutit.",
            "section": "Kontaktid ja väljakutsed",
            "feedback_month": (
                "Millise kuu kohta tagasisidet annad?",
                "Vali ükskõik milline kuupäev selles kuus.",
            ),
            "attended_peer_session": (
                "Kas osalesid selle kuu kogemusõppe kohtumisel?",
                {"Jah": True, "Ei": False},
            ),
            "attended_workshop": (
                "Kas osalesid sel kuul mõnes eksperdi töötoas?",
                {"Jah": True, "Ei": False},
            ),
            "satisfaction": (
                "Kui rahul oled selle kuu programmiga?",
                ("Üldse mitte rahul", "Väga rahul"),
            ),
            "relevance": (
                "Kui asjakohased olid selle kuu teemad sinu vajaduste jaoks?",
                ("Üldse mitte asjakohased", "Väga asjakohased"),
            ),
            "recommend": (
                "Kui tõenäoliselt soovitaksid võrgustikku mõnele teisele sotsiaalsele ettevõtjale?",
                ("Üldse mitte tõenäoliselt", "Väga tõenäoliselt"),
            ),
            "new_skill": (
                "Kas omandasid uue oskuse, mida saad oma ettevõttes kasutada?",
                {"Jah": "yes", "Osaliselt": "partly", "Ei": "no"},
            ),
            "new_connections_abroad": "Mitu uut kontakti teistest riikidest said sel kuul?",
            "stakeholder_access": (
                "Kellega aitas võrgustik sul sel kuul ühendust saada?",
                {
                    "Avalik sektor": "public_sector",
                    "Ettevõtted": "corporate",
                    "Mõjuinvestorid": "impact_investor",
                    "Meedia": "media",
                    "Mitte kellegagi": "none",
                },
            ),
            "challenges": (
                "Millised on sinu praegused väljakutsed?",
                {
                    "Rahastus": "funding",
                    "Nähtavus": "visibility",
                    "Võimekus": "capacity",
                    "Meeskond": "team",
                    "Poliitika ja regulatsioonid": "policy",
                },
            ),
            "suggestion": "Mida peaks võrgustik muutma või paremini tegema?",
        },
        "self_assessment": {
            "title": "Baltic Sea Impact Network – enesehindamine",
            "description": "Sinu vastused aitavad meil programmi sinu vajadustele kohandada.",
            "wave": (
                "Millal sa seda enesehindamist täidad?",
                {"Võrgustikuga liitumisel": "baseline", "Programmi lõpus": "endline"},
            ),
            "needs": "Millistes valdkondades vajad kõige rohkem tuge?",
            "capability": "Kuidas hindad oma praegust võimekust igas valdkonnas? (1 = madal, 5 = kõrge)",
            "interests": "Mida soovid võrgustikus õppida ja keda kohata?",
            "areas": (
                "Ligipääs rahastusele",
                "Nähtavus",
                "Mõju hindamine",
                "Kasvamine ja laienemine",
                "Riigihanked",
                "Koostöö ettevõtetega",
                "Investeerimisvalmidus",
                "Meeskonna juhtimine",
            ),
        },
        "other_challenges": [
            "Vabatahtlike leidmine",
            "Sobivad ruumid",
            "Ajapuudus",
            "Digitaalsed tööriistad",
        ],
        "suggestions": [
            "Rohkem aega küsimusteks pärast töötuba.",
            "Materjalid võiks saata paar päeva enne kohtumist.",
            "Rohkem näiteid teistest riikidest, palun!",
            "Tahaks kohtumist riigihangete teemal.",
            "Lühemad ettekanded ja rohkem arutelu väikestes gruppides.",
            "Ühine kanal kontaktide jagamiseks oleks väga kasulik.",
            "Kutsuge rohkem mõjuinvestoreid.",
            "Hea kuu, jätkake samas vaimus!",
            "Reedesed kohtumised on keerulised, äkki teisipäeval?",
            "Riikidevaheline mentorprogramm oleks väärtuslik.",
        ],
        "interests": [
            "Tahan õppida mõju hindamist ja kohtuda investoritega.",
            "Koostöö suurettevõtete ja omavalitsustega.",
            "Kuidas teised Läänemere piirkonna sotsiaalsed ettevõtted on kasvanud.",
            "Riigihanked ja sotsiaalsed kriteeriumid.",
            "Meeskonna juhtimine, kui organisatsioon kasvab.",
        ],
        "names": [
            ("Kadri", "Tamm"),
            ("Mart", "Saar"),
            ("Liis", "Kask"),
            ("Tõnu", "Mägi"),
            ("Kristiina", "Sepp"),
            ("Andres", "Kukk"),
            ("Triin", "Ilves"),
            ("Margus", "Rebane"),
            ("Kärt", "Lepik"),
            ("Jüri", "Pärn"),
        ],
    },
    "lv": {
        "monthly": {
            "title": "Baltic Sea Impact Network – ikmēneša atgriezeniskā saite",
            "description": "Pastāstiet, kā jums gāja tīklā šomēnes. Aizpildīšana aizņems apmēram piecas minūtes.",
            "section": "Kontakti un izaicinājumi",
            "attended_peer_session": (
                "Vai šomēnes piedalījāties savstarpējās mācīšanās sesijā?",
                {"Jā": True, "Nē": False},
            ),
            "attended_workshop": (
                "Vai šomēnes piedalījāties kādā ekspertu darbnīcā?",
                {"Jā": True, "Nē": False},
            ),
            "satisfaction": (
                "Cik apmierināts esat ar šī mēneša programmu?",
                ("Pavisam neapmierināts", "Ļoti apmierināts"),
            ),
            "relevance": (
                "Cik atbilstošas jūsu vajadzībām bija šī mēneša tēmas?",
                ("Pavisam neatbilstošas", "Ļoti atbilstošas"),
            ),
            "recommend": (
                "Cik ticami ir, ka jūs ieteiktu tīklu citam sociālajam uzņēmējam?",
                ("Pavisam neticami", "Ļoti ticami"),
            ),
            "new_skill": (
                "Vai apguvāt jaunu prasmi, ko varat izmantot savā uzņēmumā?",
                {"Jā": "yes", "Daļēji": "partly", "Nē": "no"},
            ),
            "new_connections_abroad": "Cik jaunu kontaktu no citām valstīm jūs šomēnes ieguvāt?",
            "stakeholder_access": (
                "Ar kuriem no šiem dalībniekiem tīkls jums palīdzēja sazināties?",
                {
                    "Publiskais sektors": "public_sector",
                    "Uzņēmumi": "corporate",
                    "Ietekmes investori": "impact_investor",
                    "Mediji": "media",
                    "Neviens no šiem": "none",
                },
            ),
            "challenges": (
                "Ar kādiem izaicinājumiem jūs šobrīd saskaraties?",
                {
                    "Finansējums": "funding",
                    "Atpazīstamība": "visibility",
                    "Kapacitāte": "capacity",
                    "Komanda": "team",
                    "Politika un regulējums": "policy",
                },
            ),
            "suggestion": "Ko tīklam vajadzētu mainīt vai uzlabot?",
        },
        "self_assessment": {
            "title": "Baltic Sea Impact Network – pašnovērtējums",
            "description": "Jūsu atbildes palīdzēs mums pielāgot programmu jūsu vajadzībām.",
            "wave": (
                "Kad jūs aizpildāt šo pašnovērtējumu?",
                {"Pievienojoties tīklam": "baseline", "Programmas noslēgumā": "endline"},
            ),
            "needs": "Kurās jomās jums visvairāk nepieciešams atbalsts?",
            "capability": "Kā jūs vērtējat savas pašreizējās spējas katrā jomā? (1 = zemas, 5 = augstas)",
            "interests": "Ko jūs vēlētos apgūt un ar ko iepazīties tīklā?",
            "areas": (
                "Piekļuve finansējumam",
                "Atpazīstamība",
                "Ietekmes mērīšana",
                "Mērogošana",
                "Publiskais iepirkums",
                "Sadarbība ar uzņēmumiem",
                "Gatavība piesaistīt investīcijas",
                "Komandas vadība",
            ),
        },
        "other_challenges": [
            "Brīvprātīgo piesaiste",
            "Piemērotas telpas",
            "Laika trūkums",
            "Digitālie rīki",
        ],
        "suggestions": [
            "Vairāk laika jautājumiem pēc darbnīcas.",
            "Materiālus varētu atsūtīt dažas dienas pirms tikšanās.",
            "Lūdzu, vairāk piemēru no citām valstīm!",
            "Gribētos tikšanos par publisko iepirkumu.",
            "Īsākas prezentācijas un vairāk diskusiju mazās grupās.",
            "Kopīgs kanāls kontaktu apmaiņai būtu ļoti noderīgs.",
            "Uzaiciniet vairāk ietekmes investoru.",
            "Šomēnes tēmas nebija īsti saistītas ar manu darbu.",
            "Piektdienās grūti piedalīties, varbūt otrdienās?",
            "Starptautiska mentoru programma būtu ļoti vērtīga.",
        ],
        "interests": [
            "Vēlos apgūt ietekmes mērīšanu un satikt investorus.",
            "Sadarbība ar lieliem uzņēmumiem un pašvaldībām.",
            "Kā citi Baltijas jūras reģiona sociālie uzņēmumi ir auguši.",
            "Publiskais iepirkums un sociālie kritēriji.",
            "Komandas vadība, kad organizācija aug.",
        ],
        "names": [
            ("Līga", "Ozola"),
            ("Jānis", "Bērziņš"),
            ("Ilze", "Kalniņa"),
            ("Mārtiņš", "Liepiņš"),
            ("Anda", "Krūmiņa"),
            ("Edgars", "Zariņš"),
            ("Dace", "Vītola"),
            ("Kristaps", "Ozoliņš"),
            ("Zane", "Siliņa"),
        ],
    },
    "lt": {
        "monthly": {
            "title": "Baltic Sea Impact Network – mėnesio grįžtamasis ryšys",
            "description": "Papasakokite, kaip jums sekėsi tinkle šį mėnesį. Užtruksite apie penkias minutes.",
            "section": "Kontaktai ir iššūkiai",
            "attended_peer_session": (
                "Ar šį mėnesį dalyvavote tarpusavio mokymosi susitikime?",
                {"Taip": True, "Ne": False},
            ),
            "attended_workshop": (
                "Ar šį mėnesį dalyvavote ekspertų dirbtuvėse?",
                {"Taip": True, "Ne": False},
            ),
            "satisfaction": (
                "Kiek esate patenkinti šio mėnesio programa?",
                ("Visiškai nepatenkintas", "Labai patenkintas"),
            ),
            "relevance": (
                "Kiek šio mėnesio temos atitiko jūsų poreikius?",
                ("Visiškai neatitiko", "Labai atitiko"),
            ),
            "recommend": (
                "Kaip tikėtina, kad rekomenduotumėte tinklą kitam socialiniam verslininkui?",
                ("Visiškai netikėtina", "Labai tikėtina"),
            ),
            "new_skill": (
                "Ar išmokote naujų įgūdžių, kuriuos galite pritaikyti savo veikloje?",
                {"Taip": "yes", "Iš dalies": "partly", "Ne": "no"},
            ),
            "new_connections_abroad": "Kiek naujų kontaktų iš kitų šalių užmezgėte šį mėnesį?",
            "stakeholder_access": (
                "Su kuriais iš šių dalyvių tinklas padėjo jums susisiekti?",
                {
                    "Viešasis sektorius": "public_sector",
                    "Įmonės": "corporate",
                    "Poveikio investuotojai": "impact_investor",
                    "Žiniasklaida": "media",
                    "Nė vienas iš jų": "none",
                },
            ),
            "challenges": (
                "Su kokiais iššūkiais šiuo metu susiduriate?",
                {
                    "Finansavimas": "funding",
                    "Matomumas": "visibility",
                    "Pajėgumai": "capacity",
                    "Komanda": "team",
                    "Politika ir reguliavimas": "policy",
                },
            ),
            "suggestion": "Ką tinklas turėtų pakeisti ar patobulinti?",
        },
        "self_assessment": {
            "title": "Baltic Sea Impact Network – įsivertinimas",
            "description": "Jūsų atsakymai padės mums pritaikyti programą prie jūsų poreikių.",
            "wave": (
                "Kada pildote šį įsivertinimą?",
                {"Prisijungiant prie tinklo": "baseline", "Programos pabaigoje": "endline"},
            ),
            "needs": "Kuriose srityse jums labiausiai reikia pagalbos?",
            "capability": "Kaip vertinate savo dabartinius gebėjimus kiekvienoje srityje? (1 = žemi, 5 = aukšti)",
            "interests": "Ko norėtumėte išmokti ir su kuo susipažinti tinkle?",
            "areas": (
                "Prieiga prie finansavimo",
                "Matomumas",
                "Poveikio vertinimas",
                "Plėtra",
                "Viešieji pirkimai",
                "Partnerystės su įmonėmis",
                "Pasirengimas investicijoms",
                "Komandos vadovavimas",
            ),
        },
        "other_challenges": [
            "Savanorių paieška",
            "Tinkamos patalpos",
            "Laiko stoka",
            "Skaitmeniniai įrankiai",
        ],
        "suggestions": [
            "Daugiau laiko klausimams po dirbtuvių.",
            "Medžiagą būtų gerai gauti kelias dienas prieš susitikimą.",
            "Prašome daugiau pavyzdžių iš kitų šalių!",
            "Norėtųsi susitikimo apie viešuosius pirkimus.",
            "Trumpesni pranešimai ir daugiau diskusijų mažose grupėse.",
            "Bendras kanalas kontaktams dalintis būtų labai naudingas.",
            "Pakvieskite daugiau poveikio investuotojų.",
            "Geras mėnuo, tęskite taip!",
            "Penktadieniais sunku dalyvauti, gal antradieniais?",
            "Tarptautinė mentorystės programa būtų vertinga.",
        ],
        "interests": [
            "Noriu išmokti vertinti poveikį ir susitikti su investuotojais.",
            "Partnerystės su didelėmis įmonėmis ir savivaldybėmis.",
            "Kaip kitos Baltijos jūros regiono socialinės įmonės augo.",
            "Viešieji pirkimai ir socialiniai kriterijai.",
            "Komandos vadovavimas organizacijai augant.",
        ],
        "names": [
            ("Rūta", "Kazlauskienė"),
            ("Tomas", "Jankauskas"),
            ("Eglė", "Petrauskaitė"),
            ("Mindaugas", "Stankevičius"),
            ("Aistė", "Vasiliauskaitė"),
            ("Darius", "Žukauskas"),
            ("Ieva", "Butkutė"),
            ("Paulius", "Navickas"),
            ("Gintarė", "Urbonaitė"),
        ],
    },
}

#: Language of the generic texts, used for a form language the sample has no texts in.
GENERIC_LANGUAGE = "en"
TEXTS[GENERIC_LANGUAGE] = {
    "monthly": {
        "title": "Baltic Sea Impact Network – monthly feedback",
        "description": "Tell us how the month in the network went. It takes about five minutes.",
        "section": "Contacts and challenges",
        "feedback_month": (
            "Which month is your feedback about?",
            "Choose any day of the month you are giving feedback on.",
        ),
        "attended_peer_session": (
            "Did you take part in this month's peer-learning session?",
            {"Yes": True, "No": False},
        ),
        "attended_workshop": (
            "Did you take part in an expert workshop this month?",
            {"Yes": True, "No": False},
        ),
        "satisfaction": (
            "How satisfied are you with this month's programme?",
            ("Not at all satisfied", "Very satisfied"),
        ),
        "relevance": (
            "How relevant were this month's topics to your needs?",
            ("Not at all relevant", "Very relevant"),
        ),
        "recommend": (
            "How likely are you to recommend the network to another social entrepreneur?",
            ("Not at all likely", "Very likely"),
        ),
        "new_skill": (
            "Did you learn something new you can use in your organisation?",
            {"Yes": "yes", "Partly": "partly", "No": "no"},
        ),
        "new_connections_abroad": "How many new contacts in other countries did you make this month?",
        "stakeholder_access": (
            "Has the network helped you reach any of the following?",
            {
                "Public sector": "public_sector",
                "Companies": "corporate",
                "Impact investors": "impact_investor",
                "Media": "media",
                "None of these": "none",
            },
        ),
        "challenges": (
            "Which challenges do you face right now?",
            {
                "Funding": "funding",
                "Visibility": "visibility",
                "Capacity": "capacity",
                "Team": "team",
                "Policy and regulation": "policy",
            },
        ),
        "suggestion": "What should the network change or improve?",
    },
    "self_assessment": {
        "title": "Baltic Sea Impact Network – self-assessment",
        "description": "Your answers help us fit the programme to your needs.",
        "wave": (
            "When are you filling in this self-assessment?",
            {"On joining the network": "baseline", "At the end of the programme": "endline"},
        ),
        "needs": "In which areas do you need support most?",
        "capability": "How do you rate your current capability in each area? (1 = low, 5 = high)",
        "interests": "What would you most like to learn, and whom would you like to meet?",
        "areas": (
            "Access to funding",
            "Visibility",
            "Impact measurement",
            "Scaling",
            "Public procurement",
            "Corporate partnerships",
            "Investor readiness",
            "Team leadership",
        ),
    },
    "other_challenges": ["Recruiting volunteers", "Finding premises", "Lack of time"],
    "suggestions": [
        "More time for questions after the workshop.",
        "Please send the material a few days before the session.",
        "More examples from the other countries, please!",
        "Good month, keep it up!",
        "A mentoring programme across countries would be valuable.",
    ],
    "interests": [
        "Impact measurement and meeting investors.",
        "Partnerships with larger companies and municipalities.",
        "How other social enterprises around the Baltic Sea have scaled.",
    ],
    "names": [
        ("Alex", "Morgan"),
        ("Sam", "Taylor"),
        ("Robin", "Berg"),
        ("Kim", "Nielsen"),
        ("Noa", "Larsen"),
        ("Eli", "Hansen"),
        ("Mika", "Virtanen"),
        ("Jamie", "Olsen"),
        ("Toni", "Koskinen"),
        ("Riley", "Dahl"),
        ("Ari", "Lund"),
        ("Kai", "Strand"),
    ],
}

#: Languages with texts of their own; any other form language gets the generic texts.
SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(TEXTS)


def texts_for(language: str) -> dict[str, Any]:
    """The sample texts of ``language``, or the generic (English) ones when it has none."""
    return TEXTS.get(language) or TEXTS[GENERIC_LANGUAGE]


# Letters with diacritics that email addresses spell without (ä -> a, ž -> z, ...).
_ASCII = str.maketrans(
    {
        "å": "a", "ä": "a", "ö": "o", "õ": "o", "ü": "u", "š": "s", "ž": "z",
        "ā": "a", "č": "c", "ē": "e", "ģ": "g", "ī": "i", "ķ": "k", "ļ": "l",
        "ņ": "n", "ū": "u", "ą": "a", "ę": "e", "ė": "e", "į": "i", "ų": "u",
    }
)  # fmt: skip


def email_local_part(first: str, last: str) -> str:
    """``anna.lindqvist`` from ("Anna", "Lindqvist"), diacritics spelled in ASCII."""
    return f"{first}.{last}".lower().translate(_ASCII)
