// The tapegrad command line: train, predict, evaluate, summary, bench, synth (apps/cli_main.cpp).
#include "apps/cli_main.h"

int main(int argc, char** argv) { return tg::app::cli_main(argc, argv); }
