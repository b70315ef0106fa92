/* test_model_peer.c: placeholder until the PEER layer lands. */
#include "tap.h"

int main(void)
{
    ok(1, "peer: not built yet");
    return tap_done();
}
