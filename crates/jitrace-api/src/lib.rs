//! Jitrace's HTTP API: REST under /v1, the OpenAPI document and the API page.
