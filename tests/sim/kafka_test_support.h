#pragma once

// What the tests of `eddy bench --kafka` share: a loopback listener for their scripted brokers,
// exact reads of request frames, and the one topic they name.

#include "broker.h"
#include "kafka_codec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace eddy::sim::test {

// Reads exactly n bytes of fd into out: false when the connection ends or fails first.
inline bool readExactly(int fd, char *out, std::size_t n)
{
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r = ::recv(fd, out + done, n - done, 0);
        if (r <= 0)
            return false;
        done += static_cast<std::size_t>(r);
    }
    return true;
}

// Reads one request frame of fd (its size prefix, then that many bytes) into frame: false when
// the connection ends first.
inline bool readRequestFrame(int fd, std::string &frame)
{
    char size[4];
    if (!readExactly(fd, size, 4))
        return false;
    kafka::KafkaReader sr(std::string_view(size, 4));
    frame.assign(static_cast<std::size_t>(std::max(0, sr.i32())), '\0');
    return readExactly(fd, frame.data(), frame.size());
}

// A socket listening on 127.0.0.1 on a free port (set in port); with receiveBuffer, accepted
// sockets inherit that receive buffer. The caller closes it.
inline int listenLoopback(int &port, int receiveBuffer = 0)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receiveBuffer > 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
    ::listen(fd, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

// Topic "t" with one partition, as the scripted brokers answer for it.
inline std::vector<TopicInfo> oneTopic()
{
    TopicInfo t;
    t.name = "t";
    t.partitions = 1;
    return {t};
}

} // namespace eddy::sim::test
