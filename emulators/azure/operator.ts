import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";

/**
 * Writes a secret the way someone outside the bot would: their own
 * credential, the unchanged Key Vault SDK, the real data plane (challenge,
 * token, RBAC). Tests use it to rotate a secret behind the bot's back.
 */
export async function writeSecretWithSdk(input: {
  vaultUri: string;
  authorityHost: string;
  tenantId: string;
  credentials: { clientId: string; clientSecret: string };
  caPem: string;
  secretName: string;
  value: string;
}): Promise<{ id: string; version: string }> {
  const credential = new ClientSecretCredential(
    input.tenantId,
    input.credentials.clientId,
    input.credentials.clientSecret,
    {
      authorityHost: input.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: input.caPem },
    },
  );
  const client = new SecretClient(input.vaultUri, credential, {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: input.caPem },
  });
  const secret = await client.setSecret(input.secretName, input.value);
  return { id: secret.properties.id ?? "", version: secret.properties.version ?? "" };
}
