// The ACME client's interface takes and gives the HTTP module's types (`HTTPTransport`,
// `HTTPResponse`, `CurlTransport`), so whoever imports ACME sees them too.
@_exported import HTTP
