/** A Free tenant's (tenant, plan) descriptor in the sample policy: 20 a minute (deploy/policies/api.yaml). */
export const freeTenant = (tenant: string) => ({
  domain: "api",
  descriptors: [
    {
      entries: [
        { key: "tenant", value: tenant },
        { key: "plan", value: "free" },
      ],
    },
  ],
});
