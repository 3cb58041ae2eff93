// Package pseudonym turns an authenticated principal into a keyed
// pseudonym: the lower-case hex of the first 16 bytes of
// HMAC-SHA256(key, issuer + "\n" + subject).
//
// Keyed, because the unkeyed hashes that tracing pipelines offer can be
// reversed by hashing every likely subject (employee ids, e-mail addresses)
// and comparing; without the key that dictionary cannot be built. The issuer
// is part of the input so that the same subject at two identity providers —
// two different people — gets two pseudonyms. Several keys may be configured
// for rotation: the first one is used, and the key id labels the epoch, so
// an investigator holding the keys can compute a principal's pseudonym under
// each and follow them across a rotation.
package pseudonym
