/*
 * hf_province — the province table (GB/T 2260, 31 mainland provinces).
 */
#include "hf_province.h"

const hf_province_t hf_provinces[HF_PROVINCE_COUNT] = {
    {"11", "Beijing"},   {"12", "Tianjin"},        {"13", "Hebei"},     {"14", "Shanxi"},
    {"15", "Inner Mongolia"}, {"21", "Liaoning"},  {"22", "Jilin"},     {"23", "Heilongjiang"},
    {"31", "Shanghai"},  {"32", "Jiangsu"},        {"33", "Zhejiang"},  {"34", "Anhui"},
    {"35", "Fujian"},    {"36", "Jiangxi"},        {"37", "Shandong"},  {"41", "Henan"},
    {"42", "Hubei"},     {"43", "Hunan"},          {"44", "Guangdong"}, {"45", "Guangxi"},
    {"46", "Hainan"},    {"50", "Chongqing"},      {"51", "Sichuan"},   {"52", "Guizhou"},
    {"53", "Yunnan"},    {"54", "Tibet"},          {"61", "Shaanxi"},   {"62", "Gansu"},
    {"63", "Qinghai"},   {"64", "Ningxia"},        {"65", "Xinjiang"},
};

int hf_province_index(const char *code2)
{
    if (!code2)
        return -1;
    for (int i = 0; i < HF_PROVINCE_COUNT; i++)
        if (hf_provinces[i].code[0] == code2[0] && hf_provinces[i].code[1] == code2[1])
            return i;
    return -1;
}
