/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config_load_apart(): config_load_file() on a short-lived thread, so that
 * glibc gives the load a malloc arena of its own (config-load.c).
 */
#pragma once

#include "config.h"

int config_load_apart(const char *path, struct damond_config **ret, struct config_errors *errs);
