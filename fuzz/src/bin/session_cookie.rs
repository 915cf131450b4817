//! A `Cookie` header as a client sends it: the signed-cookie reader, then the session
//! credential decoders of both stores (database token, cookie payload), flashes, device lists.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        web::fuzzing::session_cookie(data);
    });
}
