"""Error messages clients see; Open WebUI's wording where its clients may match on it."""

from __future__ import annotations

INVALID_TOKEN = "Your session has expired or the token is invalid. Please sign in again."
INVALID_CRED = "The email or password provided is incorrect. Please check for typos and try logging in again."
EMAIL_TAKEN = (
    "Uh-oh! This email is already registered. Sign in with your existing account or choose another email "
    "to start anew."
)
INVALID_EMAIL_FORMAT = (
    "The email format you entered is invalid. Please double-check and make sure you're using a valid "
    "email address (e.g., yourname@example.com)."
)
INCORRECT_PASSWORD = "The password provided is incorrect. Please check for typos and try again."
ACCESS_PROHIBITED = (
    "You do not have permission to access this resource. Please contact your administrator for assistance."
)
ACTION_PROHIBITED = "The requested action has been restricted as a security measure."
USER_NOT_FOUND = "We could not find what you're looking for :/"
RATE_LIMIT_EXCEEDED = "API rate limit exceeded"
SIGNUP_DISABLED = "Sign-up is disabled. Ask an administrator for an account."
HUMAN_SESSION_REQUIRED = "A human session is required."
API_KEYS_DISABLED = "API key creation is not allowed in the environment."
API_KEY_NOT_FOUND = "You have no API key. Create one with POST /api/auth/api_key."
