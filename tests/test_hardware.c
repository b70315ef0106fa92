/* test_hardware.c: hardware profiles load, unknown names list the known ones,
 * bad fields are named. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "hardware.h"
#include "tap.h"

int main(void)
{
    l720_hardware hw;
    l720_err err;
    const char *names[] = {"rtx4090", "h100-sxm", "h200", "8xh100", "gh200"};
    for (int i = 0; i < 5; i++)
        ok(l720_hardware_load(names[i], &hw, &err) == 0 && !strcmp(hw.name, names[i]) &&
               hw.memory_bytes > 0 && hw.source[0],
           "profile %s loads (%s)", names[i], err.msg);
    ok(l720_hardware_load("h100-sxm", &hw, &err) == 0 && hw.measured && hw.n_gather >= 4 &&
           hw.zero_copy_latency > 0 && hw.d2d_bandwidth > 0,
       "h100 carries its measured curve");
    char gpath[] = "/tmp/l720_hw_gather_XXXXXX.json";
    int gfd = mkstemps(gpath, 5);
    close(gfd);
    const char *curve = "{\"name\":\"g\",\"source\":\"s\",\"memory_bytes\":1,\"hbm_bandwidth\":1,"
                        "\"bf16_flops\":1,\"host_memory_bytes\":1,\"host_link\":{\"kind\":\"p\","
                        "\"bandwidth\":1,\"latency\":1},\"measured\":{\"gather\":[[256,9e9],"
                        "[1024,32e9],[4096,44e9],[262144,50e9]]}}";
    l720_write_file_atomic(gpath, curve, strlen(curve), &err);
    ok(l720_hardware_load(gpath, &hw, &err) == 0 && hw.n_gather == 4, "a gather curve loads");
    unlink(gpath);
    ok_near(l720_hardware_gather_bandwidth(&hw, 1024), 32e9, 1, "gather at a measured point");
    double mid = l720_hardware_gather_bandwidth(&hw, 2048);
    ok(mid > 32e9 && mid < 44e9, "gather between points is interpolated (%g)", mid);
    ok_near(l720_hardware_gather_bandwidth(&hw, 1e9), 50e9, 1, "clamped above");
    ok_near(l720_hardware_gather_bandwidth(&hw, 8), 9e9, 1, "clamped below");
    ok(l720_hardware_load("gh200", &hw, &err) == 0 && hw.memory_bytes == 96e9 &&
           hw.host_memory_bytes == 480e9 && !strcmp(hw.link_kind, "nvlink-c2c"),
       "gh200: 96 GB HBM + 480 GB over NVLink-C2C");
    ok(l720_hardware_load("8xh100", &hw, &err) == 0 && hw.gpus == 8 && hw.memory_bytes == 640e9,
       "8xh100: 640 GB");
    ok(l720_hardware_load("tpu9000", &hw, &err) == 2 && strstr(err.msg, "unknown hardware") &&
           strstr(err.msg, "h100-sxm") && strstr(err.msg, "rtx4090"),
       "unknown name lists the known ones: %s", err.msg);

    char path[] = "/tmp/l720_hw_XXXXXX.json";
    int fd = mkstemps(path, 5);
    close(fd);
    const char *bad = "{\"name\":\"x\",\"source\":\"s\",\"memory_bytes\":-1,\"hbm_bandwidth\":1,"
                      "\"bf16_flops\":1,\"host_memory_bytes\":1,\"host_link\":{\"kind\":\"p\","
                      "\"bandwidth\":1,\"latency\":1}}";
    l720_write_file_atomic(path, bad, strlen(bad), &err);
    ok(l720_hardware_load(path, &hw, &err) == 2 && strstr(err.msg, "memory_bytes") &&
           strstr(err.msg, "positive"),
       "negative size named: %s", err.msg);
    const char *nolink = "{\"name\":\"x\",\"source\":\"s\",\"memory_bytes\":1,\"hbm_bandwidth\":1,"
                         "\"bf16_flops\":1,\"host_memory_bytes\":1}";
    l720_write_file_atomic(path, nolink, strlen(nolink), &err);
    ok(l720_hardware_load(path, &hw, &err) == 2 && strstr(err.msg, "host_link"),
       "missing link named: %s", err.msg);
    unlink(path);

    l720_hardware list[3];
    size_t n = 9;
    ok(l720_hardware_load_list("h100-sxm,,rtx4090", list, 3, &n, &err) == 0 && n == 2 &&
           !strcmp(list[1].name, "rtx4090"),
       "a list of profiles loads, empty names skipped");
    ok(l720_hardware_load_list("h100-sxm,rtx4090", list, 1, &n, &err) == 0 && n == 1,
       "a list loads up to its room");
    ok(l720_hardware_load_list("h100-sxm,nosuch", list, 3, &n, &err) == 2 &&
           strstr(err.msg, "nosuch"),
       "an unknown name in a list is named: %s", err.msg);
    return tap_done();
}
