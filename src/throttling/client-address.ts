// The client address the per-address limits count: the socket's, or X-Forwarded-For's as far as
// TRUST_PROXY allows (express's req.ip). IPv6 clients are counted per /64, the block one
// subscriber usually gets: counting single IPv6 addresses would let one client use 2^64 of them.
import { isIPv6 } from "node:net";
import type { Request } from "express";

export function clientAddressOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? "unknown";
}

export function throttledAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = "", tail] = address.toLowerCase().split("%")[0]!.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
