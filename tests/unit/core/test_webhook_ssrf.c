/* The SSRF address classifier: every refused range, IPv4 and IPv6, and IPv6
 * forms that carry an IPv4 address. */
#include <arpa/inet.h>
#include <string.h>
#include "core/webhooks.h"
#include "tests/unit/tap.h"

static const char *cls(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, ip, &s->sin6_addr) != 1)
            return "BAD TEST INPUT";
    } else {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        if (inet_pton(AF_INET, ip, &s->sin_addr) != 1)
            return "BAD TEST INPUT";
    }
    const char *c = webhook_addr_class((struct sockaddr *)&ss);
    return c ? c : "public";
}

static const char *refused(const char *ip, int allow)
{
    struct sockaddr_in s = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &s.sin_addr);
    const char *c = webhook_addr_refused((struct sockaddr *)&s, allow);
    return c ? c : "allowed";
}

static const char *host(const char *url, int allow)
{
    struct webhook_url u;
    const char *why;
    if (webhook_url_parse(url, &u, &why) != 0)
        return "BAD URL";
    const char *c = webhook_host_refused(&u, allow);
    return c ? c : "allowed";
}

int main(void)
{
    static const struct { const char *ip, *want; } cases[] = {
        /* IPv4 */
        {"0.0.0.0", "unspecified"}, {"0.255.255.255", "unspecified"},
        {"10.0.0.1", "private"}, {"10.255.255.255", "private"}, {"11.0.0.1", "public"},
        {"127.0.0.1", "loopback"}, {"127.255.255.254", "loopback"}, {"128.0.0.1", "public"},
        {"172.16.0.1", "private"}, {"172.31.255.255", "private"}, {"172.15.255.255", "public"},
        {"172.32.0.0", "public"},
        {"192.168.0.1", "private"}, {"192.168.255.255", "private"}, {"192.169.0.1", "public"},
        {"169.254.0.1", "link_local"}, {"169.254.255.255", "link_local"}, {"169.254.169.254", "metadata"},
        {"169.253.255.255", "public"},
        {"100.64.0.1", "shared"}, {"100.127.255.255", "shared"}, {"100.63.255.255", "public"},
        {"100.128.0.0", "public"},
        {"224.0.0.1", "multicast"}, {"239.255.255.255", "multicast"},
        {"240.0.0.1", "reserved"}, {"255.255.255.255", "reserved"},
        {"8.8.8.8", "public"}, {"93.184.216.34", "public"}, {"223.255.255.255", "public"},
        /* IPv6 */
        {"::", "unspecified"}, {"::1", "loopback"},
        {"fc00::1", "private"}, {"fd00:ec2::254", "private"}, {"fdff:ffff::1", "private"},
        {"fe80::1", "link_local"}, {"febf:ffff::1", "link_local"}, {"fec0::1", "private"},
        {"ff02::1", "multicast"}, {"2001:4860:4860::8888", "public"}, {"2606:4700::1111", "public"},
        {"fbff::1", "public"},
        /* IPv6 carrying IPv4 */
        {"::ffff:127.0.0.1", "loopback"}, {"::ffff:10.0.0.1", "private"}, {"::ffff:169.254.169.254", "metadata"},
        {"::ffff:8.8.8.8", "public"}, {"::ffff:100.64.0.1", "shared"}, {"::ffff:0.0.0.0", "unspecified"},
        {"::127.0.0.1", "loopback"}, {"64:ff9b::a00:1", "private"}, {"64:ff9b::808:808", "public"},
        {"2002:7f00:1::", "loopback"}, {"2002:a9fe:a9fe::1", "metadata"}, {"2002:808:808::", "public"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EQ_STR(cls(cases[i].ip), cases[i].want, cases[i].ip);

    /* allow_private_network lets private ranges through, never the metadata service */
    EQ_STR(refused("10.0.0.1", 0), "private", "private refused");
    EQ_STR(refused("10.0.0.1", 1), "allowed", "private allowed with the flag");
    EQ_STR(refused("127.0.0.1", 1), "allowed", "loopback allowed with the flag");
    EQ_STR(refused("169.254.169.254", 1), "metadata", "metadata refused even with the flag");
    EQ_STR(refused("8.8.8.8", 0), "allowed", "public allowed");

    /* at creation: literals and well-known names */
    EQ_STR(host("http://10.0.0.1/", 0), "private", "literal private");
    EQ_STR(host("http://169.254.169.254/latest/meta-data/", 0), "metadata", "literal metadata");
    EQ_STR(host("http://169.254.169.254/", 1), "metadata", "metadata even with the flag");
    EQ_STR(host("http://localhost:8080/", 0), "loopback", "localhost");
    EQ_STR(host("http://a.b.localhost/", 0), "loopback", "*.localhost");
    EQ_STR(host("http://LOCALHOST/", 0), "loopback", "case-insensitive");
    EQ_STR(host("http://[::1]/", 0), "loopback", "IPv6 loopback literal");
    EQ_STR(host("http://[::ffff:10.0.0.1]/", 0), "private", "v4-mapped literal");
    EQ_STR(host("http://metadata.google.internal/", 1), "metadata", "GCP metadata name");
    EQ_STR(host("http://127.0.0.1:9/", 1), "allowed", "loopback literal with the flag");
    EQ_STR(host("https://hooks.example.com/", 0), "allowed", "a public name (judged again at delivery)");
    EQ_STR(host("http://2130706433/", 0), "allowed", "not a literal inet_pton knows: judged after resolution");
    return tap_done();
}
