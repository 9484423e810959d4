import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { generate } from "selfsigned";

/**
 * TLS material for the emulators. The Azure SDKs refuse bearer tokens over
 * plain http, so every emulator serves HTTPS. One CA per emulated world signs
 * a leaf certificate for each server; clients trust the CA (LABOPS_CA_FILE,
 * kubeconfig certificate-authority-data, NODE_EXTRA_CA_CERTS).
 */
export interface CertificateAuthority {
  cert: string;
  key: string;
}

export interface ServerCertificate {
  cert: string;
  key: string;
  /** PEM of the CA that signed `cert`: what a client must trust. */
  ca: string;
}

export async function createCertificateAuthority(
  name = "labops emulators CA",
): Promise<CertificateAuthority> {
  const now = new Date();
  const result = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 30 * 24 * 3600_000),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: result.cert, key: result.private };
}

/** A leaf certificate for 127.0.0.1, ::1 and localhost, signed by `ca`. */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  name = "localhost",
): Promise<ServerCertificate> {
  const now = new Date();
  const result = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 30 * 24 * 3600_000),
    ca,
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
          { type: 7, ip: "::1" },
        ],
      },
    ],
  });
  return { cert: result.cert, key: result.private, ca: ca.cert };
}

export async function writePem(path: string, pem: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, pem, { mode: 0o644 });
}
