"""Per-user preferences: the interface language, remembered across logins.

The language a person chose with the switch on every page is stored on the person
(:class:`~preferences.models.UserPreference`), copied into the session at login and applied
to each of that session's requests by :class:`~preferences.middleware.UserLanguageMiddleware`
(no query per request). Without a stored choice, the browser's language (Accept-Language,
or the cookie of a choice made before logging in) decides, as Django's LocaleMiddleware does.
"""
