#!/bin/sh
. "$top_srcdir/tests/tap.sh"
t_done
