"""The App Store's country storefronts (ISO 3166-1 alpha-2, lower case), for ``countries = "all"``.

Maintained by hand from Apple's list of App Store countries and regions (173 codes here). A code
that is not, or no longer, a storefront costs one request that answers an empty feed (or a 404, recorded as
a failed request): update the list when Apple opens or closes one.
"""

from __future__ import annotations

STOREFRONTS: tuple[str, ...] = (
    # Africa, Middle East and India
    "ae", "am", "az", "bh", "bj", "bw", "cf", "ci", "cm", "cd", "cg", "cv", "dz", "eg", "ga", "gh", "gm", "gw",
    "il", "in", "iq", "jo", "ke", "kw", "lb", "lr", "ly", "ma", "mg", "ml", "mr", "mu", "mw", "mz", "na", "ne",
    "ng", "om", "qa", "rw", "sa", "sc", "sl", "sn", "st", "sz", "td", "tn", "tz", "ug", "ye", "za", "zm", "zw",
    # Asia Pacific
    "au", "bn", "bt", "cn", "fj", "fm", "hk", "id", "jp", "kg", "kh", "kr", "kz", "la", "lk", "mn", "mo", "mm",
    "mv", "my", "np", "nr", "nz", "pg", "ph", "pk", "pw", "sb", "sg", "th", "tj", "tm", "to", "tw", "uz", "vn",
    "vu",
    # Europe
    "al", "at", "ba", "be", "bg", "by", "ch", "cy", "cz", "de", "dk", "ee", "es", "fi", "fr", "gb", "ge", "gr",
    "hr", "hu", "ie", "is", "it", "xk", "lt", "lu", "lv", "md", "me", "mk", "mt", "nl", "no", "pl", "pt", "ro",
    "rs", "ru", "se", "si", "sk", "tr", "ua",
    # Latin America and the Caribbean
    "ag", "ai", "ar", "bb", "bm", "bo", "br", "bs", "bz", "cl", "co", "cr", "dm", "do", "ec", "gd", "gt", "gy",
    "hn", "jm", "kn", "ky", "lc", "ms", "mx", "ni", "pa", "pe", "py", "sr", "sv", "tc", "tt", "uy", "vc", "ve",
    "vg",
    # United States and Canada
    "ca", "us",
)

__all__ = ["STOREFRONTS"]
