#!/usr/bin/perl
# Drive Mail::SPF (Debian libmail-spf-perl) in batch against one DNS server on 127.0.0.1.
#
#   perl mailspf_driver.pl PORT  < queries.jsonl  > results.jsonl
#
# Reads {"ip", "mailfrom", "helo"} JSON lines, writes one {"result", "detail"} line per
# query: Mail::SPF's result code and its local explanation. An empty MAIL FROM is checked
# as the "helo" scope with the HELO name as identity, as Mail::SPF's own RFC test harness
# and spfquery (spf-tools-perl) do.
use strict;
use warnings;
use JSON::PP;
use Mail::SPF;
use Net::DNS::Resolver;

my $port = shift @ARGV or die "usage: $0 PORT\n";
my $json = JSON::PP->new->utf8->canonical;

my $resolver = Net::DNS::Resolver->new(
    config_file => '/dev/null',    # no system resolver: 127.0.0.1:PORT only
    nameservers => ['127.0.0.1'],
    port        => $port,
    recurse     => 1,
    defnames    => 0,
    dnsrch      => 0,
    udp_timeout => 2,
    tcp_timeout => 2,
    retry       => 1,
    retrans     => 1,
);
my $server = Mail::SPF::Server->new(
    dns_resolver => $resolver,
    hostname     => 'receiver.example',
);

$| = 1;
while (my $line = <STDIN>) {
    next unless $line =~ /\S/;
    my $query = $json->decode($line);
    my ($ip, $mailfrom, $helo) = @{$query}{qw(ip mailfrom helo)};
    my $outcome = eval {
        my $request = Mail::SPF::Request->new(
            versions      => [1],
            scope         => length($mailfrom) ? 'mfrom' : 'helo',
            identity      => length($mailfrom) ? $mailfrom : $helo,
            ip_address    => $ip,
            helo_identity => $helo,
        );
        my $result = $server->process($request);
        { result => $result->code, detail => $result->local_explanation // '' };
    };
    # A request Mail::SPF refuses (an exception, not a result) is reported as such.
    $outcome //= { result => 'exception', detail => "$@" };
    print $json->encode($outcome), "\n";
}
