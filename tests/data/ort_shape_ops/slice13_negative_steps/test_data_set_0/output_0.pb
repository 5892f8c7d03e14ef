By0Jp^©?Lö½¿cM
À